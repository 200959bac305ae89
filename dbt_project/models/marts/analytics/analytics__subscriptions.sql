-- The analysts' `analytics.subscriptions`: one row per subscription, with what it sells (its items' products
-- and prices, by name), its MRR now and what its invoices collected.

with

subscriptions as (

    select * from {{ ref('stripe__subscriptions') }}

),

invoices as (

    select * from {{ ref('stripe__invoices') }}

),

subscription_items as (

    select * from {{ ref('stripe__subscription_items') }}

),

prices as (

    select * from {{ ref('stripe__prices') }}

),

products as (

    select * from {{ ref('stripe__products') }}

),

subscription_mrr as (

    -- The MRR models' current MRR of each subscription (major units, in the subscription's currency).
    select * from {{ ref('int_stripe__subscription_mrr_current') }}

),

items as (

    -- The subscription's current items (an item removed from it is deleted), with their price's nickname and
    -- product's name. A canceled subscription keeps its items.
    select
        subscription_items.account_id,
        subscription_items.subscription_id,
        coalesce(subscription_items.product_id, prices.product_id) as product_id,
        products.product_name,
        prices.nickname as price_nickname
    from subscription_items
    left join prices
        on subscription_items.account_id = prices.account_id
            and subscription_items.price_id = prices.price_id
    left join products
        on subscription_items.account_id = products.account_id
            and coalesce(subscription_items.product_id, prices.product_id) = products.product_id
    where not coalesce(subscription_items.is_deleted, false)

),

item_counts as (

    -- One product_id only when every item sells the same product; several items (a plan and an add-on,
    -- created in the same second, so no order tells the base plan) leave it null.
    select
        account_id,
        subscription_id,
        count(*) as item_count,
        case when count(distinct product_id) = 1 and count(product_id) = count(*) then max(product_id) end as product_id
    from items
    group by account_id, subscription_id

),

distinct_products as (

    select distinct
        account_id,
        subscription_id,
        product_name
    from items

),

distinct_prices as (

    select distinct
        account_id,
        subscription_id,
        price_nickname
    from items

),

product_names as (

    -- Each distinct name once, in alphabetical order, comma-separated (nulls left out).
    select
        account_id,
        subscription_id,
        {{ dbt.listagg('product_name', "', '", 'order by product_name') }} as product_name
    from distinct_products
    group by account_id, subscription_id

),

price_nicknames as (

    select
        account_id,
        subscription_id,
        {{ dbt.listagg('price_nickname', "', '", 'order by price_nickname') }} as price_nickname
    from distinct_prices
    group by account_id, subscription_id

),

invoice_totals as (

    -- An invoice is in its subscription's currency, so these sums never mix currencies. Deleted (draft)
    -- invoices never existed for the customer and are not counted.
    select
        account_id,
        subscription_id,
        count(*) as invoice_count,
        cast(sum(case when status = 'paid' then 1 else 0 end) as bigint) as paid_invoice_count,
        cast(sum(amount_paid) as bigint) as total_paid,
        cast(sum(amount_paid_decimal) as {{ dbt.type_numeric() }}) as total_paid_decimal
    from invoices
    where subscription_id is not null
        and not is_deleted
    group by account_id, subscription_id

),

final as (

    select
        -- ids
        subscriptions.account_id,
        subscriptions.subscription_id,
        subscriptions.customer_id,
        subscriptions.latest_invoice_id,
        item_counts.product_id,

        -- strings
        subscriptions.status,
        subscriptions.collection_method,
        subscriptions.cancellation_reason,
        subscriptions.currency,
        product_names.product_name,
        price_nicknames.price_nickname,

        -- numerics: MRR in major units; total_paid in minor units and total_paid_decimal in major units
        coalesce(subscription_mrr.mrr, 0) as current_mrr,
        coalesce(subscription_mrr.contract_mrr, 0) as current_contract_mrr,
        cast(coalesce(item_counts.item_count, 0) as {{ dbt.type_bigint() }}) as item_count,
        cast(coalesce(invoice_totals.invoice_count, 0) as {{ dbt.type_bigint() }}) as invoice_count,
        coalesce(invoice_totals.paid_invoice_count, 0) as paid_invoice_count,
        coalesce(invoice_totals.total_paid, 0) as total_paid,
        cast(coalesce(invoice_totals.total_paid_decimal, 0) as {{ dbt.type_numeric() }}) as total_paid_decimal,

        -- booleans
        subscriptions.cancel_at_period_end,
        subscriptions.is_deleted,

        -- timestamps
        subscriptions.created_at,
        subscriptions.started_at,
        subscriptions.trial_start_at,
        subscriptions.trial_end_at,
        subscriptions.cancel_at,
        subscriptions.canceled_at,
        subscriptions.ended_at

    from subscriptions
    left join subscription_mrr
        on subscriptions.account_id = subscription_mrr.account_id
            and subscriptions.subscription_id = subscription_mrr.subscription_id
    left join invoice_totals
        on subscriptions.account_id = invoice_totals.account_id
            and subscriptions.subscription_id = invoice_totals.subscription_id
    left join item_counts
        on subscriptions.account_id = item_counts.account_id
            and subscriptions.subscription_id = item_counts.subscription_id
    left join product_names
        on subscriptions.account_id = product_names.account_id
            and subscriptions.subscription_id = product_names.subscription_id
    left join price_nicknames
        on subscriptions.account_id = price_nicknames.account_id
            and subscriptions.subscription_id = price_nicknames.subscription_id

)

select * from final
