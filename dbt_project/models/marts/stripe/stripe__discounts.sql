-- The clean `stripe.discounts` table: every discount the account's objects name, ended ones included.
-- Stripe has no list endpoint for discounts, and removes a discount from its subscription (and item) when it
-- ends: a `once` coupon's after its first invoice, a `repeating` one's after its months. So each discount is
-- read wherever it is still named: its subscription or item while it applies, the invoices and invoice lines
-- it discounted for ever after, and the customer.discount.* events of the last 30 days. One row per discount:
-- the subscription's view first, then an invoice's, then the newest event's; fields one view lacks (a
-- deleted_discount has no `end`) are taken from the others.
{#- The columns every view of a discount gives, in one order for the union of the views. #}
{%- set read_columns -%}
    account_id, discount_id, coupon_id, customer_id, subscription_id, subscription_item_id, invoice_id,
    invoice_item_id, promotion_code_id, checkout_session_id, source_type, is_deleted, start_at, end_at
{%- endset %}

with

subscription_discounts as (

    select * from {{ ref('stg_stripe__discounts') }}

),

invoice_discounts as (

    select * from {{ ref('stg_stripe__invoice_discounts') }}

),

events as (

    select * from {{ ref('stripe__events') }}

),

event_discounts as (

    select
        account_id,
        object_id as discount_id,
        {{ json_text('data_object', 'source.coupon') }} as coupon_id,
        {{ json_text('data_object', 'customer') }} as customer_id,
        {{ json_text('data_object', 'subscription') }} as subscription_id,
        {{ json_text('data_object', 'subscription_item') }} as subscription_item_id,
        {{ json_text('data_object', 'invoice') }} as invoice_id,
        {{ json_text('data_object', 'invoice_item') }} as invoice_item_id,
        {{ json_text('data_object', 'promotion_code') }} as promotion_code_id,
        {{ json_text('data_object', 'checkout_session') }} as checkout_session_id,
        {{ json_text('data_object', 'source.type') }} as source_type,
        {{ json_timestamp('data_object', 'start') }} as start_at,
        {{ json_timestamp('data_object', 'end') }} as end_at,
        false as is_deleted,
        created_at as read_at
    from events
    where object_type = 'discount'
        and event_type like 'customer.discount.%'
        and object_id is not null

),

reads as (

    select {{ read_columns }}, synced_at as read_at, 'subscription' as read_from, 1 as read_rank
    from subscription_discounts

    union all

    select {{ read_columns }}, synced_at as read_at, 'invoice' as read_from, 2 as read_rank
    from invoice_discounts

    union all

    select {{ read_columns }}, read_at, 'event' as read_from, 3 as read_rank
    from event_discounts

),

ranked as (

    select
        reads.*,
        row_number() over (
            partition by account_id, discount_id order by read_rank asc, read_at desc
        ) as preference,
        max(coupon_id) over (partition by account_id, discount_id) as any_coupon_id,
        max(customer_id) over (partition by account_id, discount_id) as any_customer_id,
        max(subscription_id) over (partition by account_id, discount_id) as any_subscription_id,
        max(subscription_item_id) over (partition by account_id, discount_id) as any_subscription_item_id,
        max(start_at) over (partition by account_id, discount_id) as any_start_at,
        max(end_at) over (partition by account_id, discount_id) as any_end_at
    from reads

),

final as (

    select
        -- ids
        account_id,
        discount_id,
        coalesce(coupon_id, any_coupon_id) as coupon_id,
        coalesce(customer_id, any_customer_id) as customer_id,
        coalesce(subscription_id, any_subscription_id) as subscription_id,
        coalesce(subscription_item_id, any_subscription_item_id) as subscription_item_id,
        invoice_id,
        invoice_item_id,
        promotion_code_id,
        checkout_session_id,

        -- strings
        source_type,
        read_from,

        -- booleans
        is_deleted,

        -- timestamps
        coalesce(start_at, any_start_at) as start_at,
        coalesce(end_at, any_end_at) as end_at,
        read_at as synced_at

    from ranked
    where preference = 1

)

select * from final
