-- analytics.mrr_monthly_reporting converts analytics.mrr_monthly row by row: one row for each of its rows, the
-- reporting figures equal to its figures × exchange_rate (to the 6th decimal they are kept to), ARR to 12 ×
-- reporting_mrr rounded to a minor unit, rate 1 exactly when the row is in the reporting currency, and null
-- converted figures exactly when no rate is known. Returns the rows that do not.
-- Reads several models: the meta names the one Dagster shows it on, as an asset check.
{{ config(meta={'dagster': {'ref': {'name': 'analytics__mrr_monthly_reporting'}}}) }}

with

mrr_monthly as (

    select * from {{ ref('analytics__mrr_monthly') }}

),

reporting as (

    select * from {{ ref('analytics__mrr_monthly_reporting') }}

),

currency_exponents as (

    select * from {{ ref('currency_exponents') }}

),

paired as (

    select
        coalesce(mrr_monthly.account_id, reporting.account_id) as account_id,
        coalesce(mrr_monthly.currency, reporting.currency) as currency,
        coalesce(mrr_monthly.month, reporting.month) as month,
        mrr_monthly.account_id is not null as in_mrr_monthly,
        reporting.account_id is not null as in_reporting,
        reporting.reporting_currency,
        reporting.rate_source,
        reporting.exchange_rate,
        reporting.mrr,
        reporting.reporting_mrr,
        reporting.reporting_arr,
        reporting.reporting_net_new_mrr,
        mrr_monthly.mrr as original_mrr,
        mrr_monthly.net_new_mrr as original_net_new_mrr,
        -- Half the reporting currency's minor unit: how far rounding may move ARR.
        0.5 / power(10, coalesce(currency_exponents.exponent, 2)) as half_minor_unit
    from mrr_monthly
    full outer join reporting
        on mrr_monthly.account_id = reporting.account_id
            and mrr_monthly.currency = reporting.currency
            and mrr_monthly.month = reporting.month
    left join currency_exponents
        on reporting.reporting_currency = currency_exponents.currency

),

problems as (

    select
        account_id,
        currency,
        month,
        case
            when not in_reporting then 'a row of mrr_monthly is missing'
            when not in_mrr_monthly then 'a row that mrr_monthly does not have'
            when mrr <> original_mrr then 'mrr differs from mrr_monthly'
            when (rate_source = 'same_currency') <> (currency = coalesce(reporting_currency, ''))
                then 'same_currency does not mean currency = reporting_currency'
            when rate_source = 'same_currency' and (exchange_rate <> 1 or reporting_mrr <> mrr)
                then 'a same-currency row has a rate other than 1'
            when (rate_source = 'missing') <> (exchange_rate is null)
                then 'a rate is missing without rate_source missing, or the reverse'
            when (exchange_rate is null) <> (reporting_mrr is null)
                then 'converted mrr is null exactly when the rate is'
            when abs(reporting_mrr - original_mrr * exchange_rate) > 0.000001
                then 'reporting_mrr is not mrr × exchange_rate'
            when abs(reporting_net_new_mrr - original_net_new_mrr * exchange_rate) > 0.000001
                then 'reporting_net_new_mrr is not net_new_mrr × exchange_rate'
            when abs(reporting_arr - 12 * reporting_mrr) > half_minor_unit + 0.000001
                then 'reporting_arr is not 12 × reporting_mrr rounded'
        end as problem
    from paired

)

select * from problems
where problem is not null
