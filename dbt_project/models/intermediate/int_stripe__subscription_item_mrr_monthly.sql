-- Each subscription item's MRR at each month's evaluation instant: one row per account, subscription item and
-- month in which its subscription counts (int_stripe__subscription_status_periods) and the item has a licensed
-- value (int_stripe__subscription_item_values). The one place MRR's discounts are applied:
-- int_stripe__subscription_mrr_monthly is the sum of these rows. Value intervals, status periods and discount
-- periods are joined to the month spine, never to days, so the cost follows the number of changes and months.
-- contract_mrr is the item's value; mrr subtracts the discounts in effect at that instant: the item's own
-- first, then the subscription's (or, when the subscription has none then, the customer's), which Stripe
-- applies to the subscription's total, not to an item. Several discounts at once apply one after another, as
-- Stripe applies stacked discounts: percentages compound, then the amounts off come off what they left;
-- amount_off coupons count only in their own currency, normalised to a month like the subscription's price.
-- Never below zero. The subscription's discount is then shared out between its items in proportion to what
-- each is worth after its own discounts, so that the items add up to the subscription exactly (see `shared`).

with

months as (

    select * from {{ ref('int_stripe__mrr_months') }}

),

status_periods as (

    select * from {{ ref('int_stripe__subscription_status_periods') }}

),

item_values as (

    select * from {{ ref('int_stripe__subscription_item_values') }}

),

discount_periods as (

    select * from {{ ref('int_stripe__discount_periods') }}

),

currency_exponents as (

    select * from {{ ref('currency_exponents') }}

),

counted_months as (

    select
        status_periods.account_id,
        status_periods.subscription_id,
        status_periods.customer_id,
        status_periods.currency,
        months.month,
        months.evaluated_at
    from status_periods
    inner join months
        on status_periods.account_id = months.account_id
            and status_periods.currency = months.currency
            and status_periods.counted_from_at <= months.evaluated_at
            and (status_periods.counted_to_at is null or status_periods.counted_to_at > months.evaluated_at)

),

item_months as (

    -- The price is the item's price at the month's instant: an item whose price was swapped (same item id,
    -- another plan) is on its new price from the change on.
    select
        counted_months.account_id,
        counted_months.subscription_id,
        counted_months.customer_id,
        counted_months.currency,
        counted_months.month,
        counted_months.evaluated_at,
        item_values.subscription_item_id,
        item_values.price_id,
        item_values.recurring_interval,
        item_values.recurring_interval_count,
        item_values.contract_mrr
    from counted_months
    inner join item_values
        on counted_months.account_id = item_values.account_id
            and counted_months.subscription_id = item_values.subscription_id
            and counted_months.currency = item_values.currency
            and counted_months.evaluated_at >= item_values.valid_from_at
            and (item_values.valid_to_at is null or counted_months.evaluated_at < item_values.valid_to_at)

),

discount_months as (

    -- Every discount in effect at a counted month's instant; only the most specific level above the items
    -- applies to the subscription (its own discounts, else the customer's).
    select
        discount_periods.account_id,
        discount_periods.subscription_id,
        discount_periods.subscription_item_id,
        discount_periods.discount_level,
        counted_months.month,
        discount_periods.percent_off,
        case
            when discount_periods.amount_off_currency = counted_months.currency then discount_periods.amount_off
        end as amount_off,
        dense_rank() over (
            partition by
                discount_periods.account_id,
                discount_periods.subscription_id,
                counted_months.month,
                case when discount_periods.discount_level = 'item' then 'item' else 'subscription' end
            order by case when discount_periods.discount_level = 'customer' then 2 else 1 end
        ) as level_rank
    from discount_periods
    inner join counted_months
        on discount_periods.account_id = counted_months.account_id
            and discount_periods.subscription_id = counted_months.subscription_id
            and discount_periods.valid_from_at <= counted_months.evaluated_at
            and (discount_periods.valid_to_at is null or discount_periods.valid_to_at > counted_months.evaluated_at)

),

item_discounts as (

    select
        account_id,
        subscription_item_id,
        month,
        {{ compounded_percent_off('percent_off') }} as percent_off,
        sum(amount_off) as amount_off
    from discount_months
    where discount_level = 'item'
    group by account_id, subscription_item_id, month

),

subscription_discounts as (

    select
        account_id,
        subscription_id,
        month,
        {{ compounded_percent_off('percent_off') }} as percent_off,
        sum(amount_off) as amount_off
    from discount_months
    where discount_level <> 'item'
        and level_rank = 1
    group by account_id, subscription_id, month

),

discounted_items as (

    select
        item_months.*,
        currency_exponents.exponent as currency_exponent,
        {{ mrr_after_discount(
            'item_months.contract_mrr', 'item_discounts', 'subscription_item_id',
            'item_months.recurring_interval', 'item_months.recurring_interval_count', 'currency_exponents.exponent'
        ) }} as item_mrr
    from item_months
    left join currency_exponents
        on item_months.currency = currency_exponents.currency
    left join item_discounts
        on item_months.account_id = item_discounts.account_id
            and item_months.subscription_item_id = item_discounts.subscription_item_id
            and item_months.month = item_discounts.month

),

subscription_months as (

    select
        account_id,
        subscription_id,
        month,
        -- Stripe bills every item of a subscription on the same interval.
        min(recurring_interval) as recurring_interval,
        min(recurring_interval_count) as recurring_interval_count,
        min(currency_exponent) as currency_exponent,
        sum(item_mrr) as item_mrr
    from discounted_items
    group by account_id, subscription_id, month

),

discounted_subscriptions as (

    select
        subscription_months.account_id,
        subscription_months.subscription_id,
        subscription_months.month,
        subscription_months.item_mrr,
        subscription_discounts.percent_off,
        subscription_discounts.amount_off,
        {{ mrr_after_discount(
            'subscription_months.item_mrr', 'subscription_discounts', 'subscription_id',
            'subscription_months.recurring_interval', 'subscription_months.recurring_interval_count',
            'subscription_months.currency_exponent'
        ) }} as mrr
    from subscription_months
    left join subscription_discounts
        on subscription_months.account_id = subscription_discounts.account_id
            and subscription_months.subscription_id = subscription_discounts.subscription_id
            and subscription_months.month = subscription_discounts.month

),

shared as (

    -- Each item's share of the subscription's MRR: its value after its own discounts times the part of the
    -- items' total the subscription's discounts leave (mrr ÷ item_mrr), rounded to 6 decimals. When those
    -- discounts are percentages only, that part is exactly (100 − percent_off) %, taken as such: an item's
    -- share then never moves by a rounded millionth because another item of the subscription changed. The
    -- rounding residue (a few millionths at most) goes to one item, the largest then the first by id, so the
    -- items add up to the subscription's mrr exactly.
    select
        discounted_items.*,
        discounted_subscriptions.mrr as subscription_mrr,
        case
            when discounted_subscriptions.amount_off is null
                then {{ mrr_divide(
                    'discounted_items.item_mrr * (100 - least(coalesce(discounted_subscriptions.percent_off, 0), 100))',
                    '100'
                ) }}
            when discounted_subscriptions.item_mrr = 0 then cast(0 as {{ dbt.type_numeric() }})
            else {{ mrr_divide(
                'discounted_items.item_mrr * discounted_subscriptions.mrr', 'discounted_subscriptions.item_mrr'
            ) }}
        end as share_mrr,
        row_number() over (
            partition by discounted_items.account_id, discounted_items.subscription_id, discounted_items.month
            order by discounted_items.item_mrr desc, discounted_items.subscription_item_id asc
        ) as share_rank
    from discounted_items
    inner join discounted_subscriptions
        on discounted_items.account_id = discounted_subscriptions.account_id
            and discounted_items.subscription_id = discounted_subscriptions.subscription_id
            and discounted_items.month = discounted_subscriptions.month

),

residues as (

    select
        shared.*,
        shared.subscription_mrr - sum(shared.share_mrr) over (
            partition by shared.account_id, shared.subscription_id, shared.month
        ) as residue_mrr
    from shared

),

allocated as (

    select
        residues.*,
        residues.share_mrr + case when residues.share_rank = 1 then residues.residue_mrr else 0 end as mrr
    from residues

),

final as (

    select
        -- ids
        account_id,
        subscription_id,
        subscription_item_id,
        customer_id,
        price_id,

        -- strings
        currency,
        recurring_interval,

        -- dates
        month,

        -- numerics
        recurring_interval_count,
        cast(contract_mrr as {{ dbt.type_numeric() }}) as contract_mrr,
        cast(item_mrr as {{ dbt.type_numeric() }}) as item_discounted_mrr,
        cast(contract_mrr - mrr as {{ dbt.type_numeric() }}) as discount_mrr,
        cast(mrr as {{ dbt.type_numeric() }}) as mrr,

        -- timestamps
        evaluated_at

    from allocated

)

select * from final
