-- The analysts' `analytics.trials_monthly`: one row per account and month, from the month of the account's
-- first trial to the current month, counting the trials of analytics.trials by the month each thing happened.
-- Trials carry no money, so there is no currency in the grain.

with

trials as (

    select * from {{ ref('analytics__trials') }}

),

mrr_months as (

    -- The MRR models' month spine (per currency): each month's last second, or mrr_as_of for the current one.
    select * from {{ ref('int_stripe__mrr_months') }}

),

first_trial_months as (

    select
        account_id,
        cast({{ dbt.date_trunc('month', 'min(trial_start_at)') }} as date) as first_month
    from trials
    group by account_id

),

months as (

    select
        mrr_months.account_id,
        mrr_months.month,
        max(mrr_months.evaluated_at) as evaluated_at
    from mrr_months
    inner join first_trial_months
        on mrr_months.account_id = first_trial_months.account_id
            and mrr_months.month >= first_trial_months.first_month
    group by mrr_months.account_id, mrr_months.month

),

trial_events as (

    -- One row per trial and thing that happened to it, in the month it happened.
    select
        account_id,
        cast({{ dbt.date_trunc('month', 'trial_start_at') }} as date) as month,
        'started' as event_type,
        cast(null as {{ dbt.type_numeric() }}) as days_to_convert,
        0 as is_converted
    from trials

    union all

    -- Trials that ended in the month, and whether they converted (so far): the conversion rate's cohort.
    select
        account_id,
        cast({{ dbt.date_trunc('month', 'trial_ended_at') }} as date) as month,
        'ended' as event_type,
        cast(null as {{ dbt.type_numeric() }}) as days_to_convert,
        case when is_converted then 1 else 0 end as is_converted
    from trials
    where trial_ended_at is not null

    union all

    select
        account_id,
        cast({{ dbt.date_trunc('month', 'converted_at') }} as date) as month,
        'converted' as event_type,
        days_to_convert,
        1 as is_converted
    from trials
    where outcome = 'converted'

    union all

    select
        account_id,
        cast({{ dbt.date_trunc('month', 'ended_at') }} as date) as month,
        'canceled' as event_type,
        cast(null as {{ dbt.type_numeric() }}) as days_to_convert,
        0 as is_converted
    from trials
    where outcome = 'canceled'

),

monthly_events as (

    select
        account_id,
        month,
        sum(case when event_type = 'started' then 1 else 0 end) as trials_started,
        sum(case when event_type = 'ended' then 1 else 0 end) as trials_ended,
        sum(case when event_type = 'ended' then is_converted else 0 end) as ended_trials_converted,
        sum(case when event_type = 'converted' then 1 else 0 end) as trials_converted,
        sum(case when event_type = 'canceled' then 1 else 0 end) as trials_canceled,
        avg(days_to_convert) as avg_days_to_convert,
        percentile_cont(0.5) within group (order by days_to_convert) as median_days_to_convert
    from trial_events
    group by account_id, month

),

active_at_month_end as (

    -- In trial at the month's evaluation instant: started, and not yet ended (the scheduled end for a trial
    -- still running).
    select
        months.account_id,
        months.month,
        count(*) as trials_active_at_month_end
    from months
    inner join trials
        on months.account_id = trials.account_id
            and months.evaluated_at >= trials.trial_start_at
            and coalesce(trials.trial_ended_at, trials.trial_end_at) > months.evaluated_at
    group by months.account_id, months.month

),

final as (

    select
        -- ids
        months.account_id,

        -- dates
        months.month,

        -- numerics
        cast(coalesce(monthly_events.trials_started, 0) as {{ dbt.type_bigint() }}) as trials_started,
        cast(coalesce(monthly_events.trials_ended, 0) as {{ dbt.type_bigint() }}) as trials_ended,
        cast(coalesce(monthly_events.trials_converted, 0) as {{ dbt.type_bigint() }}) as trials_converted,
        cast(coalesce(monthly_events.trials_canceled, 0) as {{ dbt.type_bigint() }}) as trials_canceled,
        cast(
            coalesce(active_at_month_end.trials_active_at_month_end, 0) as {{ dbt.type_bigint() }}
        ) as trials_active_at_month_end,
        cast(coalesce(monthly_events.ended_trials_converted, 0) as {{ dbt.type_bigint() }}) as ended_trials_converted,
        cast(
            case
                when monthly_events.trials_ended > 0
                    then 1.0 * monthly_events.ended_trials_converted / monthly_events.trials_ended
            end as {{ dbt.type_numeric() }}
        ) as conversion_rate,
        cast(monthly_events.avg_days_to_convert as {{ dbt.type_numeric() }}) as avg_days_to_convert,
        cast(monthly_events.median_days_to_convert as {{ dbt.type_numeric() }}) as median_days_to_convert

    from months
    left join monthly_events
        on months.account_id = monthly_events.account_id
            and months.month = monthly_events.month
    left join active_at_month_end
        on months.account_id = active_at_month_end.account_id
            and months.month = active_at_month_end.month

)

select * from final
