-- When each subscription counts towards MRR: one row per subscription and period [counted_from_at,
-- counted_to_at) in which its status is active or past_due. Stripe keeps only the current status, so the
-- period comes from the subscription's dates: it starts when the trial ends (at the start date without a
-- trial) and stops when the subscription ended. past_due counts, so payment retries leave no gap;
-- cancel_at_period_end keeps counting until ended_at. Never counted: subscriptions still trialing (their
-- period starts in the future), and incomplete or incomplete_expired ones (never paid). unpaid is a current
-- status with no date: it counts until the unpaid spell its invoices show began
-- (int_stripe__subscription_unpaid_spells: the last failed retry of the invoice Stripe gave up on), else
-- until the start of the current billing period; paused until the start of the current billing period, the
-- last moment the subscription is known to have been billed normally.
-- A subscription that was unpaid or paused for a while and came back has no date for that spell either:
-- the statuses its events and the project's snapshot observed date it, and its invoices show an unpaid spell
-- (a renewal paid late while the next ones were held in draft, or a canceled subscription's drafts after
-- its dunning ended). From an observation of unpaid or paused to the next observation of any status, and
-- within an unpaid spell, the subscription does not count, which splits its period.
with

subscriptions as (

    select * from {{ ref('stripe__subscriptions') }}

),

subscription_items as (

    select * from {{ ref('stripe__subscription_items') }}

),

prices as (

    select * from {{ ref('stripe__prices') }}

),

events as (

    select * from {{ ref('stripe__events') }}

),

item_state_versions as (

    select * from {{ ref('snap_stripe__subscription_item_states') }}

),

unpaid_spells as (

    select * from {{ ref('int_stripe__subscription_unpaid_spells') }}

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
            when subscriptions.status = 'unpaid'
                then coalesce(
                        subscriptions.ended_at,
                        ongoing_unpaid.unpaid_from_at,
                        item_facts.current_period_start_at,
                        subscriptions.synced_at
                    )
            when subscriptions.status = 'paused'
                then coalesce(subscriptions.ended_at, item_facts.current_period_start_at, subscriptions.synced_at)
            when subscriptions.status = 'canceled'
                then coalesce(subscriptions.ended_at, subscriptions.canceled_at)
            else subscriptions.ended_at
        end as counted_to_at
    from subscriptions
    left join item_facts
        on subscriptions.account_id = item_facts.account_id
            and subscriptions.subscription_id = item_facts.subscription_id
    left join unpaid_spells as ongoing_unpaid
        on subscriptions.account_id = ongoing_unpaid.account_id
            and subscriptions.subscription_id = ongoing_unpaid.subscription_id
            and ongoing_unpaid.unpaid_to_at is null
    where subscriptions.status in ('active', 'past_due', 'trialing', 'canceled', 'unpaid', 'paused')
        and not subscriptions.is_deleted

),

status_observations as (

    -- Every status seen, and when: an event's subscription at its instant, the status a change replaced (a
    -- second before it), each version the snapshot kept, and the last sync's. At one instant the sync's view
    -- wins over the snapshot's, then over the events'.
    select
        account_id,
        subscription_id,
        synced_at as observed_at,
        status,
        1 as source_rank
    from subscriptions
    where not is_deleted

    union all

    select distinct
        account_id,
        subscription_id,
        observed_at,
        subscription_status as status,
        2 as source_rank
    from item_state_versions

    union all

    select
        account_id,
        object_id as subscription_id,
        created_at as observed_at,
        {{ json_text('data_object', 'status') }} as status,
        3 as source_rank
    from events
    where object_type = 'subscription'
        and event_type like 'customer.subscription.%'
        and not is_deleted

    union all

    select
        account_id,
        object_id as subscription_id,
        {{ dbt.dateadd('second', -1, 'created_at') }} as observed_at,
        {{ json_text('previous_attributes', 'status') }} as status,
        4 as source_rank
    from events
    where object_type = 'subscription'
        and event_type like 'customer.subscription.%'
        and not is_deleted

),

ranked_observations as (

    select
        status_observations.*,
        row_number() over (
            partition by account_id, subscription_id, observed_at order by source_rank, status
        ) as rank_at_instant
    from status_observations
    where status is not null
        and observed_at is not null

),

sequenced_observations as (

    select
        account_id,
        subscription_id,
        observed_at,
        status,
        lead(observed_at) over (partition by account_id, subscription_id order by observed_at) as next_observed_at
    from ranked_observations
    where rank_at_instant = 1

),

spells as (

    -- [from, to) in which an observed status stopped the subscription counting, or in which its invoices show
    -- it was unpaid; to is null while it holds.
    select
        account_id,
        subscription_id,
        observed_at as spell_from_at,
        next_observed_at as spell_to_at
    from sequenced_observations
    where status in ('unpaid', 'paused')

    union all

    select
        account_id,
        subscription_id,
        unpaid_from_at as spell_from_at,
        unpaid_to_at as spell_to_at
    from unpaid_spells

),

counted_periods as (

    select *
    from dated
    where counted_from_at is not null
        and (counted_to_at is null or counted_to_at > counted_from_at)

),

period_starts as (

    -- Counting (re)starts at the period's start and at the end of each spell inside it.
    select
        account_id,
        subscription_id,
        counted_from_at as period_start_at
    from counted_periods

    union

    select
        counted_periods.account_id,
        counted_periods.subscription_id,
        spells.spell_to_at as period_start_at
    from counted_periods
    inner join spells
        on counted_periods.account_id = spells.account_id
            and counted_periods.subscription_id = spells.subscription_id
            and counted_periods.counted_from_at < spells.spell_to_at
            and (counted_periods.counted_to_at is null or counted_periods.counted_to_at > spells.spell_to_at)

),

split_periods as (

    -- Each start runs to the first spell starting at or after it, or to the period's end; a start inside a
    -- spell (the period began while unpaid, or spells follow each other) counts nothing.
    select
        period_starts.account_id,
        period_starts.subscription_id,
        period_starts.period_start_at,
        min(spells.spell_from_at) as next_spell_from_at,
        max(case
            when spells.spell_from_at <= period_starts.period_start_at
                and (spells.spell_to_at is null or period_starts.period_start_at < spells.spell_to_at)
                then 1
            else 0
        end) as is_in_spell
    from period_starts
    left join spells
        on period_starts.account_id = spells.account_id
            and period_starts.subscription_id = spells.subscription_id
            and (spells.spell_to_at is null or period_starts.period_start_at < spells.spell_to_at)
    group by period_starts.account_id, period_starts.subscription_id, period_starts.period_start_at

),

periods as (

    select
        counted_periods.account_id,
        counted_periods.subscription_id,
        counted_periods.customer_id,
        counted_periods.currency,
        counted_periods.status,
        counted_periods.cancel_at_period_end,
        counted_periods.started_at,
        counted_periods.trial_start_at,
        counted_periods.trial_end_at,
        counted_periods.canceled_at,
        counted_periods.ended_at,
        split_periods.period_start_at as counted_from_at,
        case
            when split_periods.next_spell_from_at is null then counted_periods.counted_to_at
            when counted_periods.counted_to_at is null then split_periods.next_spell_from_at
            when split_periods.next_spell_from_at < counted_periods.counted_to_at then split_periods.next_spell_from_at
            else counted_periods.counted_to_at
        end as counted_to_at
    from counted_periods
    inner join split_periods
        on counted_periods.account_id = split_periods.account_id
            and counted_periods.subscription_id = split_periods.subscription_id
    where split_periods.is_in_spell = 0

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

    from periods
    where counted_to_at is null or counted_to_at > counted_from_at

)

select * from final
