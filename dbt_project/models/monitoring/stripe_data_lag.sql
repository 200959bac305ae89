-- Per account and key table: how far the newest object lags behind the account's last load. Commerce BI's
-- advice for Stripe data: the "last successful update" moves even when one table failed to load, so compare
-- MAX(created) of a few key tables with the time of the last load. Its tests warn and fail on the thresholds
-- (vars stripe_data_lag_warn_hours, stripe_data_lag_error_hours, per table stripe_data_lag_table_hours);
-- Dagster shows them as asset checks.
{{ config(schema='monitoring', materialized='table') }}

{%- set key_tables = ['charges', 'invoices', 'subscriptions', 'events'] %}
{%- set table_hours = var('stripe_data_lag_table_hours', {}) %}

with

{% for table in key_tables %}
    {{ table }} as (

        select * from {{ ref('stripe__' ~ table) }}

    ),

{% endfor %}
accounts as (

    select * from {{ ref('stripe__accounts') }}

),

thresholds as (

    {% for table in key_tables %}
        {%- set hours = table_hours.get(table, {}) %}
        select
            '{{ table }}' as table_name,
            cast({{ hours.get('warn', var('stripe_data_lag_warn_hours')) }} as {{ dbt.type_numeric() }}) as warn_after_hours,
            cast({{ hours.get('error', var('stripe_data_lag_error_hours')) }} as {{ dbt.type_numeric() }}) as error_after_hours
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

newest_objects as (

    {% for table in key_tables %}
        select
            account_id,
            '{{ table }}' as table_name,
            max(created_at) as newest_created_at,
            max(synced_at) as last_synced_at,
            count(*) as row_count
        from {{ table }}
        group by account_id
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

account_loads as (

    -- The account's last load: the ingester reads the account object on every sync, and any key table it
    -- wrote counts too (in case the account object is missing).
    select
        account_id,
        max(synced_at) as last_loaded_at
    from (
        select
            account_id,
            synced_at
        from accounts
        union all
        select
            account_id,
            last_synced_at as synced_at
        from newest_objects
    ) as loads
    group by account_id

),

account_tables as (

    -- Every key table for every account, so that a table with no rows at all for an account shows too.
    select
        account_loads.account_id,
        account_loads.last_loaded_at,
        thresholds.table_name,
        thresholds.warn_after_hours,
        thresholds.error_after_hours
    from account_loads
    cross join thresholds

),

lags as (

    select
        account_tables.*,
        coalesce(newest_objects.row_count, 0) as row_count,
        newest_objects.newest_created_at,
        cast(
            {{ dbt.datediff('newest_objects.newest_created_at', 'account_tables.last_loaded_at', 'second') }} / 3600.0
            as {{ dbt.type_numeric() }}
        ) as lag_hours
    from account_tables
    left join newest_objects
        on account_tables.account_id = newest_objects.account_id
            and account_tables.table_name = newest_objects.table_name

),

final as (

    select
        -- ids
        account_id,

        -- strings
        table_name,
        case
            when newest_created_at is null then 'no_data'
            when lag_hours > error_after_hours then 'error'
            when lag_hours > warn_after_hours then 'warn'
            else 'ok'
        end as status,

        -- numerics
        row_count,
        lag_hours,
        warn_after_hours,
        error_after_hours,

        -- timestamps
        newest_created_at,
        last_loaded_at

    from lags

)

select * from final
