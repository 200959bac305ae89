-- When each discount lowers MRR: one row per discount, subscription it applies to and period [valid_from_at,
-- valid_to_at). A discount on a subscription (or on one of its items) applies to that subscription; a
-- customer's discount to each of the customer's subscriptions (Stripe lets a subscription's own discount
-- take precedence; the MRR model applies that). Discounts on one invoice or invoice item are not MRR.
-- How long: `forever` from its start on; `repeating` for duration_in_months (Stripe's `end`); `once` for the
-- first billing period that starts at or after the discount's start (and after any trial), read from the
-- subscription's renewal lines or, before its first invoice, its items' current period.
-- The var mrr_discounts picks the durations that count: all (default), forever_only or none.

with

discounts as (

    select * from {{ ref('stripe__discounts') }}

),

coupons as (

    select * from {{ ref('stripe__coupons') }}

),

subscriptions as (

    select * from {{ ref('stripe__subscriptions') }}

),

subscription_items as (

    select * from {{ ref('stripe__subscription_items') }}

),

invoice_line_items as (

    select * from {{ ref('stripe__invoice_line_items') }}

),

coupon_discounts as (

    select
        discounts.account_id,
        discounts.discount_id,
        discounts.coupon_id,
        discounts.customer_id,
        -- An item's discount names the item; its subscription comes from the item when not named too.
        coalesce(discounts.subscription_id, subscription_items.subscription_id) as subscription_id,
        discounts.subscription_item_id,
        coupons.duration,
        coupons.duration_in_months,
        coupons.percent_off,
        coupons.amount_off,
        lower(coupons.currency) as amount_off_currency,
        discounts.start_at,
        discounts.end_at
    from discounts
    inner join coupons
        on discounts.account_id = coupons.account_id
            and discounts.coupon_id = coupons.coupon_id
    left join subscription_items
        on discounts.account_id = subscription_items.account_id
            and discounts.subscription_item_id = subscription_items.subscription_item_id
    where discounts.invoice_id is null
        and discounts.invoice_item_id is null
        and discounts.start_at is not null
        and {{ mrr_discount_duration_filter('coupons.duration') }}

),

targets as (

    select
        coupon_discounts.*,
        case when subscription_item_id is not null then 'item' else 'subscription' end as discount_level
    from coupon_discounts
    where subscription_id is not null

    union all

    -- A customer's discount: every subscription of that customer.
    select
        coupon_discounts.account_id,
        coupon_discounts.discount_id,
        coupon_discounts.coupon_id,
        coupon_discounts.customer_id,
        subscriptions.subscription_id,
        coupon_discounts.subscription_item_id,
        coupon_discounts.duration,
        coupon_discounts.duration_in_months,
        coupon_discounts.percent_off,
        coupon_discounts.amount_off,
        coupon_discounts.amount_off_currency,
        coupon_discounts.start_at,
        coupon_discounts.end_at,
        'customer' as discount_level
    from coupon_discounts
    inner join subscriptions
        on coupon_discounts.account_id = subscriptions.account_id
            and coupon_discounts.customer_id = subscriptions.customer_id
    where coupon_discounts.subscription_id is null
        and coupon_discounts.subscription_item_id is null

),

billing_periods as (

    -- The billing periods of each subscription: its renewal lines, and its items' current period (for a
    -- period not invoiced yet).
    select distinct
        account_id,
        subscription_id,
        period_start_at,
        period_end_at
    from invoice_line_items
    where subscription_item_id is not null
        and not coalesce(is_proration, false)
        and period_start_at is not null
        and not is_deleted

    union

    select distinct
        account_id,
        subscription_id,
        current_period_start_at as period_start_at,
        current_period_end_at as period_end_at
    from subscription_items
    where current_period_start_at is not null
        and not is_deleted

),

first_periods as (

    -- A `once` coupon's period: the first billing period starting at or after the discount (a minute of
    -- slack: a discount made with its subscription can start a moment after it) and after any trial.
    select
        targets.account_id,
        targets.discount_id,
        targets.subscription_id,
        billing_periods.period_start_at,
        billing_periods.period_end_at,
        row_number() over (
            partition by targets.account_id, targets.discount_id, targets.subscription_id
            order by billing_periods.period_start_at, billing_periods.period_end_at
        ) as period_number
    from targets
    inner join subscriptions
        on targets.account_id = subscriptions.account_id
            and targets.subscription_id = subscriptions.subscription_id
    inner join billing_periods
        on targets.account_id = billing_periods.account_id
            and targets.subscription_id = billing_periods.subscription_id
            and billing_periods.period_start_at >= {{ dbt.dateadd('minute', -1, 'targets.start_at') }}
            and billing_periods.period_start_at >= coalesce(subscriptions.trial_end_at, subscriptions.started_at, billing_periods.period_start_at)
    where targets.duration = 'once'

),

windows as (

    select
        targets.*,
        case
            when targets.duration = 'once' then first_periods.period_start_at
            else targets.start_at
        end as valid_from_at,
        case
            when targets.duration = 'once' then first_periods.period_end_at
            when targets.duration = 'repeating'
                then coalesce(targets.end_at, {{ dbt.dateadd('month', 'targets.duration_in_months', 'targets.start_at') }})
            else targets.end_at
        end as valid_to_at
    from targets
    left join first_periods
        on targets.account_id = first_periods.account_id
            and targets.discount_id = first_periods.discount_id
            and targets.subscription_id = first_periods.subscription_id
            and first_periods.period_number = 1

),

final as (

    select
        -- ids
        account_id,
        discount_id,
        coupon_id,
        customer_id,
        subscription_id,
        subscription_item_id,

        -- strings
        discount_level,
        duration,
        amount_off_currency,

        -- numerics
        duration_in_months,
        percent_off,
        amount_off,

        -- timestamps
        start_at,
        end_at,
        valid_from_at,
        valid_to_at

    from windows
    where valid_from_at is not null
        and (valid_to_at is null or valid_to_at > valid_from_at)

)

select * from final
