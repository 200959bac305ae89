-- semantic.time_spine_daily: one row per day, the time spine MetricFlow needs for metric_time (dbt >= 1.9:
-- https://docs.getdbt.com/docs/build/metricflow-time-spine). Stripe accounts begin in 2011; the spine runs from
-- 2010 to the end of 2049, about 15,000 rows, built with dbt's cross-database date_spine (DuckDB and Postgres).

with

days as (

    {{ dbt.date_spine(
        datepart="day",
        start_date="cast('2010-01-01' as date)",
        end_date="cast('2050-01-01' as date)",
    ) }}

),

final as (

    select cast(date_day as date) as date_day
    from days
    -- date_spine keeps its end date; the spine stops the day before.
    where date_day < cast('2050-01-01' as date)

)

select * from final
