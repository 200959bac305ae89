-- When each subscription counts towards MRR: one row per subscription and period [counted_from_at,
-- counted_to_at) in which its status is active or past_due. Stripe keeps only the current status, so the
-- period comes from the subscription's dates: it starts when the trial ends (at the start date without a
-- trial) and stops when the subscription ended. past_due counts, so payment retries leave no gap;
-- cancel_at_period_end keeps counting until ended_at. Never counted: subscriptions still trialing (their
-- period starts in the future), and incomplete or incomplete_expired ones (never paid). unpaid and paused
-- are current statuses with no date: they count until the start of the current billing period, the last
-- moment the subscription is known to have been billed normally.

with

subscriptions as (

    select * from {{ ref('stg_stripe__subscriptions') }}

),

subscription_items as (

    select * from {{ ref('stg_stripe__subscription_items') }}

),

prices as (

    select * from {{ ref('stg_stripe__prices') }}

),

item_facts as (

    select
        subscription_items.account_id,
        subscription_items.subscription_id,
        max(subscription_items.current_period_start_at) as current_period_start_at,
        min(prices.currency) as price_currency
    from subscription_items
    left join prices
        on subscription_items.account_id = prices.account_id
        and subscription_items.price_id = prices.price_id
    group by subscription_items.account_id, subscription_items.subscription_id

),

dated as (

    select
        subscriptions.account_id,
        subscriptions.subscription_id,
        subscriptions.customer_id,
        lower(coalesce(subscriptions.currency, item_facts.price_currency)) as currency,
        subscriptions.status,
        subscriptions.cancel_at_period_end,
        subscriptions.started_at,
        subscriptions.trial_start_at,
        subscriptions.trial_end_at,
        subscriptions.canceled_at,
        subscriptions.ended_at,
        case
            when subscriptions.trial_end_at > coalesce(subscriptions.started_at, subscriptions.created_at)
                then subscriptions.trial_end_at
            else coalesce(subscriptions.started_at, subscriptions.created_at)
        end as counted_from_at,
        case
            when subscriptions.status in ('unpaid', 'paused')
                then coalesce(subscriptions.ended_at, item_facts.current_period_start_at, subscriptions.synced_at)
            when subscriptions.status = 'canceled'
                then coalesce(subscriptions.ended_at, subscriptions.canceled_at)
            else subscriptions.ended_at
        end as counted_to_at
    from subscriptions
    left join item_facts
        on subscriptions.account_id = item_facts.account_id
        and subscriptions.subscription_id = item_facts.subscription_id
    where subscriptions.status in ('active', 'past_due', 'trialing', 'canceled', 'unpaid', 'paused')
        and not subscriptions.is_deleted

),

final as (

    select
        -- ids
        account_id,
        subscription_id,
        customer_id,

        -- strings
        currency,
        status,

        -- booleans
        cancel_at_period_end,

        -- timestamps
        started_at,
        trial_start_at,
        trial_end_at,
        canceled_at,
        ended_at,
        counted_from_at,
        counted_to_at

    from dated
    where counted_from_at is not null
        and (counted_to_at is null or counted_to_at > counted_from_at)

)

select * from final
