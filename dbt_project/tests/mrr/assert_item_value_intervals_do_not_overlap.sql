-- Each subscription item's value intervals are non-empty and follow each other without overlapping: at any
-- instant an item has one price and quantity. Returns the offending intervals.

with

item_values as (

    select * from {{ ref('int_stripe__subscription_item_values') }}

),

with_next as (

    select
        account_id,
        subscription_item_id,
        valid_from_at,
        valid_to_at,
        lead(valid_from_at) over (
            partition by account_id, subscription_item_id order by valid_from_at
        ) as next_valid_from_at
    from item_values

)

select *
from with_next
where valid_to_at <= valid_from_at
    or next_valid_from_at is not null and (valid_to_at is null or valid_to_at > next_valid_from_at)
