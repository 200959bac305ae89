-- The analysts' `analytics.daily_overview`: one row per account, currency and UTC day, the money that moved
-- through the account's balance that day (Fivetran's daily overview: sales are balance transactions of type
-- charge/payment, refunds refund/payment_refund, payouts dated by available_on) beside the day's failed
-- payments, sign-ups and disputes. Every day from the first activity in a currency to the account's last
-- load is a row, quiet days with zeros. Built in steps: int_stripe__balance_days (the money),
-- int_stripe__account_home_currencies and int_stripe__daily_activity (everything counted, per day with any),
-- int_stripe__daily_calendar (the days). Definitions in _analytics__models.yml.

with

calendar as (

    select * from {{ ref('int_stripe__daily_calendar') }}

),

daily_activity as (

    select * from {{ ref('int_stripe__daily_activity') }}

),

final as (

    select
        -- the grain: account, day, currency
        calendar.account_id,
        calendar.date_day as date,
        calendar.currency,

        -- numerics: the day's sums in minor units (bigint) and major units, cast to the contract's numeric(28, 6)
        -- (DuckDB sums numeric(28, 6) into numeric(38, 6), a precision BI drivers choke on)
        coalesce(daily_activity.gross_volume, 0) as gross_volume,
        cast(coalesce(daily_activity.gross_volume_decimal, 0) as {{ dbt.type_numeric() }}) as gross_volume_decimal,
        coalesce(daily_activity.refunds, 0) as refunds,
        cast(coalesce(daily_activity.refunds_decimal, 0) as {{ dbt.type_numeric() }}) as refunds_decimal,
        coalesce(daily_activity.adjustments, 0) as adjustments,
        cast(coalesce(daily_activity.adjustments_decimal, 0) as {{ dbt.type_numeric() }}) as adjustments_decimal,
        coalesce(daily_activity.fees, 0) as fees,
        cast(coalesce(daily_activity.fees_decimal, 0) as {{ dbt.type_numeric() }}) as fees_decimal,
        coalesce(daily_activity.net_volume, 0) as net_volume,
        cast(coalesce(daily_activity.net_volume_decimal, 0) as {{ dbt.type_numeric() }}) as net_volume_decimal,
        coalesce(daily_activity.payouts, 0) as payouts,
        cast(coalesce(daily_activity.payouts_decimal, 0) as {{ dbt.type_numeric() }}) as payouts_decimal,
        coalesce(daily_activity.successful_payments, 0) as successful_payments,
        coalesce(daily_activity.failed_payments, 0) as failed_payments,
        coalesce(daily_activity.new_customers, 0) as new_customers,
        coalesce(daily_activity.disputes, 0) as disputes

    from calendar
    left join daily_activity
        on calendar.account_id = daily_activity.account_id
            and calendar.currency = daily_activity.currency
            and calendar.date_day = daily_activity.date_day

)

select * from final
