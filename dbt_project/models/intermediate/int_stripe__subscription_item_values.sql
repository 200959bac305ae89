-- What each subscription item was worth per month, over time: one row per item and interval [valid_from_at,
-- valid_to_at) of constant price and quantity. Stripe keeps no history of an item, so it is rebuilt from
-- what the API keeps: every invoice line of an item states its price and quantity from the line's period
-- start on, a pending proration (an invoice item not yet invoiced) dates a change made since the last
-- invoice, subscription events state the items at their instant (and just before a change), the project's
-- snapshot keeps every state a sync saw, and the item itself gives the state at the time of the sync. Rows
-- grow with the number of changes: consecutive identical states (one per renewal) merge into one interval.

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

prices as (

    select * from {{ ref('stripe__prices') }}

),

currency_exponents as (

    select * from {{ ref('currency_exponents') }}

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
    select account_id, subscription_item_id from billed_changes
    union
    select account_id, subscription_item_id from event_changes
    union
    select account_id, subscription_item_id from snapshot_changes

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

intervals as (

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

),

licensed_prices as (

    -- Licensed recurring prices only: metered usage and one-time prices are never MRR.
    select
        prices.account_id,
        prices.price_id,
        prices.currency,
        prices.billing_scheme,
        prices.tiers_mode,
        prices.tiers,
        prices.recurring_interval,
        coalesce(prices.recurring_interval_count, 1) as recurring_interval_count,
        coalesce(prices.unit_amount_exact, prices.unit_amount) as unit_amount,
        prices.transform_quantity_divide_by,
        prices.transform_quantity_round,
        currency_exponents.exponent as currency_exponent
    from prices
    left join currency_exponents
        on prices.currency = currency_exponents.currency
    where prices.recurring_interval is not null
        and coalesce(prices.usage_type, 'licensed') = 'licensed'
        and not prices.is_deleted

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
                else case
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
