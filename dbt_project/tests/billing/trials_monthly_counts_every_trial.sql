-- analytics.trials_monthly counts every trial of analytics.trials once where it happened: as many starts as
-- trials, conversions as converted trials, cancellations as canceled ones, and never more converted than ended
-- in a month's cohort. Returns the accounts or months that do not.
{{ config(meta={'dagster': {'ref': {'name': 'analytics__trials_monthly'}}}) }}

with

trials as (

    select
        account_id,
        count(*) as trials,
        sum(case when outcome = 'converted' then 1 else 0 end) as converted,
        sum(case when outcome = 'canceled' then 1 else 0 end) as canceled,
        sum(case when trial_ended_at is not null then 1 else 0 end) as ended
    from {{ ref('analytics__trials') }}
    group by account_id

),

monthly_rows as (

    select * from {{ ref('analytics__trials_monthly') }}

),

monthly as (

    select
        account_id,
        sum(trials_started) as trials,
        sum(trials_converted) as converted,
        sum(trials_canceled) as canceled,
        sum(trials_ended) as ended
    from monthly_rows
    group by account_id

)

select
    coalesce(trials.account_id, monthly.account_id) as account_id,
    cast(null as date) as month,
    trials.trials,
    monthly.trials as monthly_trials
from trials
full outer join monthly
    on trials.account_id = monthly.account_id
where trials.account_id is null
    or monthly.account_id is null
    or trials.trials <> monthly.trials
    or trials.converted <> monthly.converted
    or trials.canceled <> monthly.canceled
    or trials.ended <> monthly.ended

union all

select
    account_id,
    month,
    trials_ended as trials,
    ended_trials_converted as monthly_trials
from monthly_rows
where ended_trials_converted > trials_ended
