{#
    Every non-null value of the column exists as `field` in `to` within the same Stripe account: the join
    includes account_id, because an id from one account says nothing about another account's rows.
    Returns the dangling child rows (account_id and value).
#}
{% test relationships_per_account(model, column_name, to, field, account_column='account_id', to_account_column='account_id') %}

with

child as (
    select
        {{ account_column }} as account_id,
        {{ column_name }} as from_field
    from {{ model }}
    where {{ column_name }} is not null
),

parent as (
    select
        {{ to_account_column }} as account_id,
        {{ field }} as to_field
    from {{ to }}
),

dangling as (
    select
        child.account_id,
        child.from_field
    from child
    left join parent
        on child.account_id = parent.account_id
        and child.from_field = parent.to_field
    where parent.to_field is null
)

select * from dangling

{% endtest %}
