{#
    The column is unique within each Stripe account. Stripe ids are only unique per account (coupon and
    plan ids are chosen by the user and repeat across accounts), so every key is tested on
    (account_id, <column>). Null keys are not counted here: pair this test with not_null.
#}
{% test unique_per_account(model, column_name, account_column='account_id') %}

select
    {{ account_column }} as account_id,
    {{ column_name }} as unique_field,
    count(*) as n_records
from {{ model }}
where {{ column_name }} is not null
group by {{ account_column }}, {{ column_name }}
having count(*) > 1

{% endtest %}
