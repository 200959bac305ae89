-- The days analytics.daily_overview has a row for: per account and currency, every day (reporting time zone) from its first
-- activity (int_stripe__daily_activity) to the day of the account's last load, quiet days included. Later days
-- are not known yet.

with

activity as (

    select * from {{ ref('int_stripe__daily_activity') }}

),

accounts as (

    select * from {{ ref('stripe__accounts') }}

),

balance_transactions as (

    select * from {{ ref('stripe__balance_transactions') }}

),

charges as (

    select * from {{ ref('stripe__charges') }}

),

customers as (

    select * from {{ ref('stripe__customers') }}

),

day_numbers as (

    -- 1, 2, ... up to a hundred years of days.
    {{ dbt.generate_series(36525) }}

),

last_load_days as (

    select
        account_id,
        {{ reporting_date_trunc('day', 'max(synced_at)') }} as date_day
    from (
        select
            account_id,
            synced_at
        from accounts
        union all
        select
            account_id,
            synced_at
        from balance_transactions
        union all
        select
            account_id,
            synced_at
        from charges
        union all
        select
            account_id,
            synced_at
        from customers
    ) as loads
    group by account_id

),

calendar_ranges as (

    select
        account_id,
        currency,
        min(date_day) as first_day,
        max(date_day) as last_activity_day
    from activity
    where currency is not null
        and date_day is not null
    group by account_id, currency

),

final as (

    select
        calendar_ranges.account_id,
        calendar_ranges.currency,
        cast({{ dbt.dateadd('day', 'cast(day_numbers.generated_number as integer) - 1', 'calendar_ranges.first_day') }} as date) as date_day
    from calendar_ranges
    left join last_load_days
        on calendar_ranges.account_id = last_load_days.account_id
    inner join day_numbers
        on cast(day_numbers.generated_number as integer) - 1 <= {{ dbt.datediff(
            'calendar_ranges.first_day',
            'coalesce(greatest(calendar_ranges.last_activity_day, last_load_days.date_day), calendar_ranges.last_activity_day)',
            'day'
        ) }}

)

select * from final
