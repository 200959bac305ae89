-- analytics.revenue_monthly_reporting: analytics.daily_overview's money per account, balance currency and month
-- (gross volume, refunds, adjustments, fees, net volume), as it is and converted into the reporting currency at
-- that month's rate (int_stripe__reporting_exchange_rates). Stripe's monthly rate is the average of the month's
-- conversions weighted by amount, the rate money that flowed through the month is usually translated at.

with

daily_overview as (

    select * from {{ ref('analytics__daily_overview') }}

),

rates as (

    select * from {{ ref('int_stripe__reporting_exchange_rates') }}

),

monthly as (

    select
        account_id,
        currency,
        cast({{ dbt.date_trunc('month', 'date') }} as date) as month,
        sum(gross_volume) as gross_volume,
        sum(gross_volume_decimal) as gross_volume_decimal,
        sum(refunds) as refunds,
        sum(refunds_decimal) as refunds_decimal,
        sum(adjustments) as adjustments,
        sum(adjustments_decimal) as adjustments_decimal,
        sum(fees) as fees,
        sum(fees_decimal) as fees_decimal,
        sum(net_volume) as net_volume,
        sum(net_volume_decimal) as net_volume_decimal
    from daily_overview
    group by 1, 2, 3

),

final as (

    select
        -- ids
        monthly.account_id,

        -- strings
        monthly.currency,
        rates.reporting_currency,
        rates.rate_source,

        -- dates
        monthly.month,
        rates.rate_date,

        -- numerics: the rate, and the month's money in the balance currency (minor units and major units)
        cast(rates.exchange_rate as numeric(28, 12)) as exchange_rate,
        cast(monthly.gross_volume as {{ dbt.type_bigint() }}) as gross_volume,
        cast(monthly.gross_volume_decimal as {{ dbt.type_numeric() }}) as gross_volume_decimal,
        cast(monthly.refunds as {{ dbt.type_bigint() }}) as refunds,
        cast(monthly.refunds_decimal as {{ dbt.type_numeric() }}) as refunds_decimal,
        cast(monthly.adjustments as {{ dbt.type_bigint() }}) as adjustments,
        cast(monthly.adjustments_decimal as {{ dbt.type_numeric() }}) as adjustments_decimal,
        cast(monthly.fees as {{ dbt.type_bigint() }}) as fees,
        cast(monthly.fees_decimal as {{ dbt.type_numeric() }}) as fees_decimal,
        cast(monthly.net_volume as {{ dbt.type_bigint() }}) as net_volume,
        cast(monthly.net_volume_decimal as {{ dbt.type_numeric() }}) as net_volume_decimal,

        -- numerics: in the reporting currency, in major units; null when no rate is known
        cast(monthly.gross_volume_decimal * rates.exchange_rate as {{ dbt.type_numeric() }}) as reporting_gross_volume,
        cast(monthly.refunds_decimal * rates.exchange_rate as {{ dbt.type_numeric() }}) as reporting_refunds,
        cast(monthly.adjustments_decimal * rates.exchange_rate as {{ dbt.type_numeric() }}) as reporting_adjustments,
        cast(monthly.fees_decimal * rates.exchange_rate as {{ dbt.type_numeric() }}) as reporting_fees,
        cast(monthly.net_volume_decimal * rates.exchange_rate as {{ dbt.type_numeric() }}) as reporting_net_volume

    from monthly
    left join rates
        on monthly.account_id = rates.account_id
            and monthly.currency = rates.currency
            and monthly.month = rates.month

)

select * from final
