-- analytics.mrr_monthly_reporting: analytics.mrr_monthly's MRR and its movements per account, currency and month,
-- beside the same figures converted into the reporting currency at that month's rate
-- (int_stripe__reporting_exchange_rates says which rate and where it came from). analytics.mrr_monthly itself
-- stays per currency and untouched; an all-currencies total is a sum of this table's reporting_* columns per
-- account and month, as every row of an account is in the same reporting currency.

with

mrr_monthly as (

    select * from {{ ref('analytics__mrr_monthly') }}

),

rates as (

    select * from {{ ref('int_stripe__reporting_exchange_rates') }}

),

currency_exponents as (

    select * from {{ ref('currency_exponents') }}

),

converted as (

    -- Columns by name: analytics.mrr_monthly may grow new ones.
    select
        mrr_monthly.account_id,
        mrr_monthly.currency,
        mrr_monthly.month,
        rates.reporting_currency,
        rates.rate_source,
        rates.rate_date,
        rates.exchange_rate,
        mrr_monthly.mrr,
        mrr_monthly.mrr * rates.exchange_rate as reporting_mrr,
        mrr_monthly.new_mrr * rates.exchange_rate as reporting_new_mrr,
        mrr_monthly.reactivation_mrr * rates.exchange_rate as reporting_reactivation_mrr,
        mrr_monthly.expansion_mrr * rates.exchange_rate as reporting_expansion_mrr,
        mrr_monthly.contraction_mrr * rates.exchange_rate as reporting_contraction_mrr,
        mrr_monthly.churned_mrr * rates.exchange_rate as reporting_churned_mrr,
        mrr_monthly.net_new_mrr * rates.exchange_rate as reporting_net_new_mrr,
        mrr_monthly.is_partial_month,
        mrr_monthly.as_of_at,
        -- The reporting currency's minor unit, for ARR: 2 unless the seed lists it.
        coalesce(currency_exponents.exponent, 2) as reporting_exponent
    from mrr_monthly
    left join rates
        on mrr_monthly.account_id = rates.account_id
            and mrr_monthly.currency = rates.currency
            and mrr_monthly.month = rates.month
    left join currency_exponents
        on rates.reporting_currency = currency_exponents.currency

),

final as (

    select
        -- ids
        account_id,

        -- strings
        currency,
        reporting_currency,
        rate_source,

        -- dates
        month,
        rate_date,

        -- numerics: the rate, and MRR in the account's currency, in major units
        cast(exchange_rate as numeric(28, 12)) as exchange_rate,
        cast(mrr as {{ dbt.type_numeric() }}) as mrr,

        -- numerics: in the reporting currency, in major units; null when no rate is known
        cast(reporting_mrr as {{ dbt.type_numeric() }}) as reporting_mrr,
        {{ round_to_minor_unit('12 * reporting_mrr', 'reporting_exponent') }} as reporting_arr,
        cast(reporting_new_mrr as {{ dbt.type_numeric() }}) as reporting_new_mrr,
        cast(reporting_reactivation_mrr as {{ dbt.type_numeric() }}) as reporting_reactivation_mrr,
        cast(reporting_expansion_mrr as {{ dbt.type_numeric() }}) as reporting_expansion_mrr,
        cast(reporting_contraction_mrr as {{ dbt.type_numeric() }}) as reporting_contraction_mrr,
        cast(reporting_churned_mrr as {{ dbt.type_numeric() }}) as reporting_churned_mrr,
        cast(reporting_net_new_mrr as {{ dbt.type_numeric() }}) as reporting_net_new_mrr,

        -- as of, as in analytics.mrr_monthly
        is_partial_month,
        as_of_at

    from converted

)

select * from final
