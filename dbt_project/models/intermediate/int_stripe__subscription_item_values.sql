-- What each subscription item was worth per month, over time: one row per item and interval of constant
-- price and quantity (int_stripe__subscription_item_intervals) on a licensed recurring price
-- (int_stripe__licensed_prices). The price applies per unit, per package of units, or by its tiers (graduated or
-- volume), and the amount per billing interval is normalised to a month.

with

intervals as (

    select * from {{ ref('int_stripe__subscription_item_intervals') }}

),

licensed_prices as (

    select * from {{ ref('int_stripe__licensed_prices') }}

),

subscriptions as (

    select * from {{ ref('stripe__subscriptions') }}

),

price_tiers as (

    -- One row per tier of a tiered price, with the last unit of the tier before it (0 for the first).
    select
        account_id,
        price_id,
        up_to,
        coalesce(lag(up_to) over (partition by account_id, price_id order by up_to asc nulls last), 0) as up_from,
        unit_amount,
        flat_amount
    from (
        select
            licensed_prices.account_id,
            licensed_prices.price_id,
            {{ json_bigint('tier_elements.element', 'up_to') }} as up_to,
            coalesce(
                {{ json_numeric_exact('tier_elements.element', 'unit_amount_decimal') }},
                {{ json_bigint('tier_elements.element', 'unit_amount') }},
                0
            ) as unit_amount,
            coalesce(
                {{ json_numeric_exact('tier_elements.element', 'flat_amount_decimal') }},
                {{ json_bigint('tier_elements.element', 'flat_amount') }},
                0
            ) as flat_amount
        from licensed_prices
        {{ cross_join_json_array('licensed_prices.tiers', 'tier_elements') }}
        where licensed_prices.billing_scheme = 'tiered'
    ) as tiers

),

tiered_amounts as (

    -- Graduated: each tier prices the units that fall in it, plus its flat amount when any does.
    -- Volume: every unit at the rate of the tier the quantity falls in, plus that tier's flat amount.
    select
        intervals.account_id,
        intervals.subscription_item_id,
        intervals.valid_from_at,
        sum(
            case
                when licensed_prices.tiers_mode = 'volume'
                    then case
                            when (intervals.quantity > price_tiers.up_from or price_tiers.up_from = 0)
                                and (price_tiers.up_to is null or intervals.quantity <= price_tiers.up_to)
                                then intervals.quantity * price_tiers.unit_amount + price_tiers.flat_amount
                            else 0
                        end
                when intervals.quantity > price_tiers.up_from
                    then (
                        case
                            when price_tiers.up_to is null or intervals.quantity < price_tiers.up_to
                                then intervals.quantity
                            else price_tiers.up_to
                        end - price_tiers.up_from
                    ) * price_tiers.unit_amount + price_tiers.flat_amount
                else 0
            end
        ) as amount_per_interval
    from intervals
    inner join licensed_prices
        on intervals.account_id = licensed_prices.account_id
            and intervals.price_id = licensed_prices.price_id
    inner join price_tiers
        on intervals.account_id = price_tiers.account_id
            and intervals.price_id = price_tiers.price_id
    where licensed_prices.billing_scheme = 'tiered'
    group by intervals.account_id, intervals.subscription_item_id, intervals.valid_from_at

),

valued as (

    select
        intervals.account_id,
        intervals.subscription_id,
        intervals.subscription_item_id,
        intervals.price_id,
        intervals.change_source,
        licensed_prices.currency,
        licensed_prices.billing_scheme,
        licensed_prices.tiers_mode,
        licensed_prices.recurring_interval,
        licensed_prices.recurring_interval_count,
        licensed_prices.currency_exponent,
        intervals.quantity,
        case
            when licensed_prices.billing_scheme = 'tiered' then coalesce(tiered_amounts.amount_per_interval, 0)
            -- transform_quantity bills per package of divide_by units, rounded up unless told otherwise.
            when licensed_prices.transform_quantity_divide_by > 0 and licensed_prices.transform_quantity_round = 'down'
                then licensed_prices.unit_amount
                    * cast(floor(cast(intervals.quantity as numeric(38, 12)) / licensed_prices.transform_quantity_divide_by) as {{ dbt.type_bigint() }})
            when licensed_prices.transform_quantity_divide_by > 0
                then licensed_prices.unit_amount
                    * cast(ceil(cast(intervals.quantity as numeric(38, 12)) / licensed_prices.transform_quantity_divide_by) as {{ dbt.type_bigint() }})
            else licensed_prices.unit_amount * intervals.quantity
        end as amount_per_interval,
        intervals.valid_from_at,
        intervals.valid_to_at
    from intervals
    inner join licensed_prices
        on intervals.account_id = licensed_prices.account_id
            and intervals.price_id = licensed_prices.price_id
    left join tiered_amounts
        on intervals.account_id = tiered_amounts.account_id
            and intervals.subscription_item_id = tiered_amounts.subscription_item_id
            and intervals.valid_from_at = tiered_amounts.valid_from_at
    where intervals.quantity is not null

),

final as (

    select
        -- ids
        valued.account_id,
        valued.subscription_id,
        valued.subscription_item_id,
        subscriptions.customer_id,
        valued.price_id,

        -- strings
        valued.currency,
        valued.billing_scheme,
        valued.tiers_mode,
        valued.recurring_interval,
        valued.change_source,

        -- numerics
        valued.recurring_interval_count,
        valued.quantity,
        cast(valued.amount_per_interval as numeric(38, 12)) as amount_per_interval,
        {{ mrr_normalise('valued.amount_per_interval', 'valued.recurring_interval', 'valued.recurring_interval_count', 'valued.currency_exponent') }} as contract_mrr,

        -- timestamps
        valued.valid_from_at,
        valued.valid_to_at

    from valued
    left join subscriptions
        on valued.account_id = subscriptions.account_id
            and valued.subscription_id = subscriptions.subscription_id

)

select * from final
