-- When each subscription item had which price and quantity: one row per item and interval [valid_from_at,
-- valid_to_at) of constant price and quantity. Stripe keeps no history of an item, so it is rebuilt from what
-- the API keeps: every invoice line of an item states its price and quantity from the line's period start on, a
-- pending proration (an invoice item not yet invoiced) dates a change made since the last invoice, subscription
-- events state the items at their instant (and just before a change), the project's snapshot keeps every state
-- a sync saw, and the item itself gives the state at the time of the sync. Rows grow with the number of
-- changes: consecutive identical states (one per renewal) merge into one interval. An interval without a
-- price is the item removed. int_stripe__subscription_item_values prices the intervals.

with

subscriptions as (

    select * from {{ ref('stripe__subscriptions') }}

),

subscription_items as (

    select * from {{ ref('stripe__subscription_items') }}

),

invoice_line_items as (

    select * from {{ ref('stripe__invoice_line_items') }}

),

invoice_items as (

    select * from {{ ref('stripe__invoice_items') }}

),

item_event_states as (

    select * from {{ ref('int_stripe__subscription_item_event_states') }}

),

item_state_versions as (

    select * from {{ ref('snap_stripe__subscription_item_states') }}

),

line_changes as (

    -- A regular line (one per renewal) and a positive proration line ("Remaining time on ...") state the
    -- item's price and quantity from their period start on. A negative proration line ("Unused time on ...")
    -- only says the previous state stopped then: when nothing replaces it at that instant, the item was
    -- removed, so it is kept as a state without a price.
    select
        account_id,
        subscription_id,
        subscription_item_id,
        case when is_proration and amount < 0 then null else price_id end as price_id,
        case when is_proration and amount < 0 then null else quantity end as quantity,
        period_start_at as changed_at,
        period_end_at,
        case
            when not coalesce(is_proration, false) then 'invoice_line'
            when amount >= 0 then 'proration_line'
            else 'proration_credit'
        end as change_source
    from invoice_line_items
    where subscription_item_id is not null
        and period_start_at is not null
        and not is_deleted

),

unique_price_items as (

    -- Stripe's invoice items name their subscription but not always the item: a pending proration is
    -- matched to the subscription's only current item on its price.
    select
        account_id,
        subscription_id,
        price_id,
        min(subscription_item_id) as subscription_item_id
    from subscription_items
    where not is_deleted
    group by account_id, subscription_id, price_id
    having count(*) = 1

),

pending_changes as (

    -- A change since the last invoice: its proration waits, as an invoice item, for the next invoice. Only
    -- the positive side (the new state) is needed; once invoiced it is a proration line above.
    select
        invoice_items.account_id,
        invoice_items.subscription_id,
        coalesce(invoice_items.subscription_item_id, unique_price_items.subscription_item_id) as subscription_item_id,
        invoice_items.price_id,
        invoice_items.quantity,
        invoice_items.period_start_at as changed_at,
        invoice_items.period_end_at,
        'pending_proration' as change_source
    from invoice_items
    left join unique_price_items
        on invoice_items.account_id = unique_price_items.account_id
            and invoice_items.subscription_id = unique_price_items.subscription_id
            and invoice_items.price_id = unique_price_items.price_id
    where invoice_items.is_proration
        and invoice_items.invoice_id is null
        and invoice_items.amount >= 0
        and invoice_items.period_start_at is not null
        and not invoice_items.is_deleted
        and coalesce(invoice_items.subscription_item_id, unique_price_items.subscription_item_id) is not null

),

billed_changes as (

    select * from line_changes
    union all
    select * from pending_changes

),

event_changes as (

    -- An event's items hold from its instant; a change that removed an item ends it then. The items as they
    -- were before a change are only known to hold up to it: they are dated a second earlier, the latest they
    -- can have started, so they never displace an earlier state that lines or other events date better, and
    -- an item's earliest known state still reaches back to its creation (see intervals).
    select
        account_id,
        subscription_id,
        subscription_item_id,
        price_id,
        quantity,
        case
            when observation = 'before' then {{ dbt.dateadd('second', -1, 'observed_at') }}
            else observed_at
        end as changed_at,
        cast(null as {{ dbt.type_timestamp() }}) as period_end_at,
        case observation
            when 'after' then 'event'
            when 'before' then 'event_previous'
            else 'event_removal'
        end as change_source
    from item_event_states

),

snapshot_changes as (

    -- Every version a sync saw, from when it was first loaded (the latest the change can have happened); a
    -- deleted item is worth nothing from then.
    select
        account_id,
        subscription_id,
        subscription_item_id,
        case when is_deleted then null else price_id end as price_id,
        case when is_deleted then null else quantity end as quantity,
        observed_at as changed_at,
        cast(null as {{ dbt.type_timestamp() }}) as period_end_at,
        'snapshot' as change_source
    from item_state_versions
    where observed_at is not null

),

billed_items as (

    -- Every item with a line or a pending proration, and the end of the last period billed for it: where the
    -- value of an item no longer listed stops.
    select
        account_id,
        subscription_item_id,
        min(subscription_id) as subscription_id,
        max(case when change_source = 'invoice_line' then period_end_at end) as billed_until_at
    from billed_changes
    group by account_id, subscription_item_id

),

observed_items as (

    -- Items with any earlier state on record: billed, named by an event, or kept by the snapshot.
    select
        account_id,
        subscription_item_id
    from billed_changes
    union
    select
        account_id,
        subscription_item_id
    from event_changes
    union
    select
        account_id,
        subscription_item_id
    from snapshot_changes

),

current_states as (

    -- The item as the last sync saw it: its state then. An item with no earlier state on record has had that
    -- state since it was created.
    select
        subscription_items.account_id,
        subscription_items.subscription_id,
        subscription_items.subscription_item_id,
        subscription_items.price_id,
        subscription_items.quantity,
        case
            when observed_items.subscription_item_id is null
                then coalesce(subscription_items.created_at, subscriptions.started_at, subscriptions.created_at)
            else subscription_items.synced_at
        end as changed_at,
        cast(null as {{ dbt.type_timestamp() }}) as period_end_at,
        'subscription_item' as change_source
    from subscription_items
    left join subscriptions
        on subscription_items.account_id = subscriptions.account_id
            and subscription_items.subscription_id = subscriptions.subscription_id
    left join observed_items
        on subscription_items.account_id = observed_items.account_id
            and subscription_items.subscription_item_id = observed_items.subscription_item_id
    where not subscription_items.is_deleted

),

removed_items as (

    -- An item gone from its subscription (removed, or not listed any more) is worth nothing after the last
    -- period billed for it.
    select
        billed_items.account_id,
        billed_items.subscription_id,
        billed_items.subscription_item_id,
        cast(null as {{ dbt.type_string() }}) as price_id,
        cast(null as {{ dbt.type_bigint() }}) as quantity,
        billed_items.billed_until_at as changed_at,
        cast(null as {{ dbt.type_timestamp() }}) as period_end_at,
        'removed' as change_source
    from billed_items
    left join subscription_items
        on billed_items.account_id = subscription_items.account_id
            and billed_items.subscription_item_id = subscription_items.subscription_item_id
            and not subscription_items.is_deleted
    where subscription_items.subscription_item_id is null
        and billed_items.billed_until_at is not null

),

changes as (

    select * from billed_changes
    union all
    select * from event_changes
    union all
    select * from snapshot_changes
    union all
    select * from current_states
    union all
    select * from removed_items

),

ranked_changes as (

    -- Several sources at one instant: the sync's own view first (now, then as kept by the snapshot), then an
    -- event's view of that instant, then the new state of a change, then a renewal line; a credit or the end
    -- of billing only when nothing else says what came next.
    select
        changes.*,
        row_number() over (
            partition by account_id, subscription_item_id, changed_at
            order by
                case change_source
                    when 'subscription_item' then 1
                    when 'snapshot' then 2
                    when 'event' then 3
                    when 'event_removal' then 4
                    when 'proration_line' then 5
                    when 'pending_proration' then 6
                    when 'invoice_line' then 7
                    when 'event_previous' then 8
                    when 'proration_credit' then 9
                    else 10
                end,
                price_id,
                quantity
        ) as rank_at_instant
    from changes

),

states as (

    select
        account_id,
        subscription_id,
        subscription_item_id,
        price_id,
        quantity,
        changed_at,
        change_source,
        lag(price_id) over (
            partition by account_id, subscription_item_id order by changed_at
        ) as previous_price_id,
        lag(quantity) over (
            partition by account_id, subscription_item_id order by changed_at
        ) as previous_quantity,
        row_number() over (
            partition by account_id, subscription_item_id order by changed_at
        ) as state_number
    from ranked_changes
    where rank_at_instant = 1

),

state_changes as (

    -- Only real changes: a renewal at the same price and quantity continues the interval.
    select *
    from states
    where state_number = 1
        or price_id is null and previous_price_id is not null
        or price_id is not null and previous_price_id is null
        or price_id <> previous_price_id
        or quantity is null and previous_quantity is not null
        or quantity is not null and previous_quantity is null
        or quantity <> previous_quantity

),

final as (

    -- The first state goes back to the item's creation when its first line starts later (a first invoice
    -- deferred to a billing cycle anchor, say): the item was on the subscription from then.
    select
        state_changes.account_id,
        state_changes.subscription_id,
        state_changes.subscription_item_id,
        state_changes.price_id,
        state_changes.quantity,
        state_changes.change_source,
        case
            when state_changes.state_number = 1 and subscription_items.created_at < state_changes.changed_at
                then subscription_items.created_at
            else state_changes.changed_at
        end as valid_from_at,
        lead(state_changes.changed_at) over (
            partition by state_changes.account_id, state_changes.subscription_item_id
            order by state_changes.changed_at
        ) as valid_to_at
    from state_changes
    left join subscription_items
        on state_changes.account_id = subscription_items.account_id
            and state_changes.subscription_item_id = subscription_items.subscription_item_id
            and not subscription_items.is_deleted

)

select * from final
