-- analytics.revenue_monthly_reporting holds analytics.daily_overview's money once: per account and currency its
-- sums equal the daily overview's, and each row's reporting figures are its figures × exchange_rate (to the 6th
-- decimal), rate 1 on the reporting currency's own rows, null without a rate. Returns what does not hold.
-- Reads several models: the meta names the one Dagster shows it on, as an asset check.
{{ config(meta={'dagster': {'ref': {'name': 'analytics__revenue_monthly_reporting'}}}) }}

with

daily_overview as (

    select * from {{ ref('analytics__daily_overview') }}

),

reporting as (

    select * from {{ ref('analytics__revenue_monthly_reporting') }}

),

overview_totals as (

    select
        account_id,
        currency,
        sum(gross_volume) as gross_volume,
        sum(refunds) as refunds,
        sum(adjustments) as adjustments,
        sum(fees) as fees,
        sum(net_volume) as net_volume
    from daily_overview
    group by account_id, currency

),

reporting_totals as (

    select
        account_id,
        currency,
        sum(gross_volume) as gross_volume,
        sum(refunds) as refunds,
        sum(adjustments) as adjustments,
        sum(fees) as fees,
        sum(net_volume) as net_volume
    from reporting
    group by account_id, currency

),

totals_that_differ as (

    select
        coalesce(overview_totals.account_id, reporting_totals.account_id) as account_id,
        coalesce(overview_totals.currency, reporting_totals.currency) as currency,
        cast(null as date) as month,
        'totals differ from the daily overview' as problem
    from overview_totals
    full outer join reporting_totals
        on overview_totals.account_id = reporting_totals.account_id
            and overview_totals.currency = reporting_totals.currency
    where coalesce(overview_totals.gross_volume, 0) <> coalesce(reporting_totals.gross_volume, 0)
        or coalesce(overview_totals.refunds, 0) <> coalesce(reporting_totals.refunds, 0)
        or coalesce(overview_totals.adjustments, 0) <> coalesce(reporting_totals.adjustments, 0)
        or coalesce(overview_totals.fees, 0) <> coalesce(reporting_totals.fees, 0)
        or coalesce(overview_totals.net_volume, 0) <> coalesce(reporting_totals.net_volume, 0)
        or overview_totals.account_id is null
        or reporting_totals.account_id is null

),

rows_not_converted as (

    select
        account_id,
        currency,
        month,
        case
            when (rate_source = 'same_currency') <> (currency = coalesce(reporting_currency, ''))
                then 'same_currency does not mean currency = reporting_currency'
            when rate_source = 'same_currency' and exchange_rate <> 1
                then 'a same-currency row has a rate other than 1'
            when (rate_source = 'missing') <> (exchange_rate is null)
                then 'a rate is missing without rate_source missing, or the reverse'
            when (exchange_rate is null) <> (reporting_net_volume is null)
                then 'converted figures are null exactly when the rate is'
            when abs(reporting_gross_volume - gross_volume_decimal * exchange_rate) > 0.000001
                or abs(reporting_refunds - refunds_decimal * exchange_rate) > 0.000001
                or abs(reporting_adjustments - adjustments_decimal * exchange_rate) > 0.000001
                or abs(reporting_fees - fees_decimal * exchange_rate) > 0.000001
                or abs(reporting_net_volume - net_volume_decimal * exchange_rate) > 0.000001
                then 'a reporting figure is not its figure × exchange_rate'
        end as problem
    from reporting

)

select * from totals_that_differ
union all
select * from rows_not_converted
where problem is not null
