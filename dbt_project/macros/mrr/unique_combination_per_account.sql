{#
    The combination of `columns` is unique within each Stripe account: unique_per_account for a key of several
    columns (customer_mrr_monthly's customer_id, currency and month). Returns the repeated keys.
#}
{% test unique_combination_per_account(model, columns, account_column='account_id') %}

select
    {{ account_column }} as account_id,
    {{ columns | join(', ') }},
    count(*) as n_records
from {{ model }}
group by {{ account_column }}, {{ columns | join(', ') }}
having count(*) > 1

{% endtest %}
