-- analytics.subscription_item_mrr_monthly: every subscription item's MRR per month, with its price and product,
-- and its movement: customer_mrr_monthly broken down by what was sold. A row for each month the item has MRR,
-- plus the month it churns (mrr = 0); the months at zero after a churn have no row until it returns (a
-- reactivation row). One exception keeps contract_mrr whole: an item that still counts while a discount takes
-- all of it has a row at mrr 0 (its contract value) in each month its customer has a customer_mrr_monthly row.
-- So, per account, customer, currency and month, these rows add up to customer_mrr_monthly's mrr and
-- contract_mrr exactly (the test assert_item_mrr_sums_to_customer_mrr_monthly), and every customer row has
-- items (a churn row has its items' churn rows).

with

item_months as (

    select * from {{ ref('int_stripe__subscription_item_mrr_monthly') }}

),

customer_mrr_monthly as (

    select * from {{ ref('analytics__customer_mrr_monthly') }}

),

months as (

    select * from {{ ref('int_stripe__mrr_months') }}

),

prices as (

    select * from {{ ref('stripe__prices') }}

),

products as (

    select * from {{ ref('stripe__products') }}

),

with_mrr as (

    select *
    from item_months
    where mrr > 0

),

churn_months as (

    -- The month after a month with MRR in which the item has none (up to the current month): its subscription
    -- stopped counting, the item was removed, or a discount took all of it.
    select
        with_mrr.account_id,
        with_mrr.subscription_item_id,
        with_mrr.currency,
        next_months.month
    from with_mrr
    inner join months as next_months
        on with_mrr.account_id = next_months.account_id
            and with_mrr.currency = next_months.currency
            and next_months.month = cast({{ dbt.dateadd('month', 1, 'with_mrr.month') }} as date)
    left join with_mrr as following
        on with_mrr.account_id = following.account_id
            and with_mrr.subscription_item_id = following.subscription_item_id
            and next_months.month = following.month
    where following.subscription_item_id is null

),

zero_months as (

    -- An item counted at mrr 0 (a discount taking all of it) in a month its customer has a row: it carries
    -- its contract value into the customer's contract_mrr.
    select
        item_months.account_id,
        item_months.subscription_item_id,
        item_months.currency,
        item_months.month
    from item_months
    inner join customer_mrr_monthly
        on item_months.account_id = customer_mrr_monthly.account_id
            and item_months.customer_id = customer_mrr_monthly.customer_id
            and item_months.currency = customer_mrr_monthly.currency
            and item_months.month = customer_mrr_monthly.month
    where item_months.mrr = 0

),

item_keys as (

    select
        account_id,
        subscription_item_id,
        currency,
        month
    from with_mrr

    union

    select
        account_id,
        subscription_item_id,
        currency,
        month
    from churn_months

    union

    select
        account_id,
        subscription_item_id,
        currency,
        month
    from zero_months

),

item_rows as (

    -- The item as it is at the month's instant; in a churn month in which it no longer counts, as it was the
    -- month before (its last price).
    select
        item_keys.account_id,
        coalesce(item_months.customer_id, previous_months.customer_id) as customer_id,
        coalesce(item_months.subscription_id, previous_months.subscription_id) as subscription_id,
        item_keys.subscription_item_id,
        coalesce(item_months.price_id, previous_months.price_id) as price_id,
        coalesce(item_months.recurring_interval, previous_months.recurring_interval) as recurring_interval,
        coalesce(item_months.recurring_interval_count, previous_months.recurring_interval_count) as recurring_interval_count,
        item_keys.currency,
        item_keys.month,
        coalesce(item_months.mrr, cast(0 as {{ dbt.type_numeric() }})) as mrr,
        coalesce(item_months.contract_mrr, cast(0 as {{ dbt.type_numeric() }})) as contract_mrr,
        coalesce(previous_months.mrr, cast(0 as {{ dbt.type_numeric() }})) as previous_mrr
    from item_keys
    left join item_months
        on item_keys.account_id = item_months.account_id
            and item_keys.subscription_item_id = item_months.subscription_item_id
            and item_keys.month = item_months.month
    left join with_mrr as previous_months
        on item_keys.account_id = previous_months.account_id
            and item_keys.subscription_item_id = previous_months.subscription_item_id
            and previous_months.month = cast({{ dbt.dateadd('month', -1, 'item_keys.month') }} as date)

),

with_first_month as (

    select
        item_rows.*,
        min(case when item_rows.mrr > 0 then item_rows.month end) over (
            partition by item_rows.account_id, item_rows.subscription_item_id
        ) as first_month_with_mrr
    from item_rows

),

final as (

    select
        -- ids
        with_first_month.account_id,
        with_first_month.customer_id,
        with_first_month.subscription_id,
        with_first_month.subscription_item_id,
        with_first_month.price_id,
        prices.product_id,

        -- what was sold: the product, the price's nickname (a plan's name) and its billing interval
        products.product_name,
        prices.nickname as price_nickname,
        with_first_month.recurring_interval,
        with_first_month.recurring_interval_count,
        with_first_month.currency,

        -- dates
        with_first_month.month,

        -- numerics
        cast(with_first_month.mrr as {{ dbt.type_numeric() }}) as mrr,
        cast(with_first_month.contract_mrr as {{ dbt.type_numeric() }}) as contract_mrr,
        cast(with_first_month.contract_mrr - with_first_month.mrr as {{ dbt.type_numeric() }}) as discount_mrr,
        cast(with_first_month.previous_mrr as {{ dbt.type_numeric() }}) as previous_mrr,
        cast(with_first_month.mrr - with_first_month.previous_mrr as {{ dbt.type_numeric() }}) as mrr_change,

        -- movement: customer_mrr_monthly's rules, per item. A return after months at zero is a reactivation.
        case
            when with_first_month.previous_mrr = 0 and with_first_month.mrr > 0
                and with_first_month.month = with_first_month.first_month_with_mrr then 'new'
            when with_first_month.previous_mrr = 0 and with_first_month.mrr > 0 then 'reactivation'
            when with_first_month.previous_mrr > 0 and with_first_month.mrr = 0 then 'churn'
            when with_first_month.mrr > with_first_month.previous_mrr then 'expansion'
            when with_first_month.mrr < with_first_month.previous_mrr then 'contraction'
            else 'unchanged'
        end as movement,

        -- as of: the customer's row of that month says it, as every MRR mart does.
        customer_month.is_partial_month,
        customer_month.as_of_at

    from with_first_month
    left join customer_mrr_monthly as customer_month
        on with_first_month.account_id = customer_month.account_id
            and with_first_month.customer_id = customer_month.customer_id
            and with_first_month.currency = customer_month.currency
            and with_first_month.month = customer_month.month
    left join prices
        on with_first_month.account_id = prices.account_id
            and with_first_month.price_id = prices.price_id
    left join products
        on prices.account_id = products.account_id
            and prices.product_id = products.product_id

)

select * from final
