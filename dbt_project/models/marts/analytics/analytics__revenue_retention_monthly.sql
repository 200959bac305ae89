-- analytics.revenue_retention_monthly: per account, currency and month, the 12-month net and gross revenue
-- retention of the customers who had MRR a year before, and LTV = ARPA ÷ the trailing-12-month average monthly
-- customer churn rate (the definitions, with ChartMogul's and Baremetrics', are in the model's YAML docs).

with

customer_mrr as (

    select * from {{ ref('analytics__customer_mrr_monthly') }}

),

months as (

    select * from {{ ref('int_stripe__mrr_months') }}

),

currency_exponents as (

    select * from {{ ref('currency_exponents') }}

),

history_starts as (

    select
        account_id,
        currency,
        min(month) as first_month
    from months
    group by account_id, currency

),

year_ago_base as (

    -- The customers with MRR in a month, and what the same customers have 12 months later (0 once gone: a
    -- month without a row has no MRR). Customers who joined or came back since are not in it: a reactivated
    -- customer counts only if it had MRR 12 months before.
    select
        year_ago.account_id,
        year_ago.currency,
        cast({{ dbt.dateadd('month', 12, 'year_ago.month') }} as date) as month,
        count(*) as base_customers,
        sum(year_ago.mrr) as base_mrr,
        sum(coalesce(now_mrr.mrr, 0)) as base_current_mrr,
        -- Gross: expansion is not counted, each customer at most what it had.
        sum(least(coalesce(now_mrr.mrr, 0), year_ago.mrr)) as base_retained_mrr
    from customer_mrr as year_ago
    left join customer_mrr as now_mrr
        on year_ago.account_id = now_mrr.account_id
            and year_ago.customer_id = now_mrr.customer_id
            and year_ago.currency = now_mrr.currency
            and now_mrr.month = cast({{ dbt.dateadd('month', 12, 'year_ago.month') }} as date)
    where year_ago.mrr > 0
    group by year_ago.account_id, year_ago.currency, year_ago.month

),

month_totals as (

    select
        account_id,
        currency,
        month,
        sum(mrr) as mrr,
        sum(case when mrr > 0 then 1 else 0 end) as customers,
        sum(case when previous_mrr > 0 then 1 else 0 end) as starting_customers,
        sum(case when movement = 'churn' then 1 else 0 end) as churned_customers
    from customer_mrr
    group by account_id, currency, month

),

monthly as (

    -- Every month of the spine, months without any customer row at zero. The month's customer churn rate is
    -- mrr_monthly's: churned customers ÷ customers with MRR at the start of the month, null without any.
    select
        months.account_id,
        months.currency,
        months.month,
        months.is_partial_month,
        months.as_of_at,
        coalesce(month_totals.mrr, 0) as mrr,
        coalesce(month_totals.customers, 0) as customers,
        {{ mrr_ratio('coalesce(month_totals.churned_customers, 0)', 'coalesce(month_totals.starting_customers, 0)') }} as customer_churn_rate
    from months
    left join month_totals
        on months.account_id = month_totals.account_id
            and months.currency = month_totals.currency
            and months.month = month_totals.month

),

trailing_churn as (

    -- The 12 months ending with this one (the spine has no gaps, so 12 rows are 12 months): the sum and number
    -- of the monthly churn rates there are (a month without customers at its start has none).
    select
        account_id,
        currency,
        month,
        is_partial_month,
        as_of_at,
        mrr,
        customers,
        sum(customer_churn_rate) over (
            partition by account_id, currency order by month rows between 11 preceding and current row
        ) as churn_rate_sum,
        count(customer_churn_rate) over (
            partition by account_id, currency order by month rows between 11 preceding and current row
        ) as churn_rate_months
    from monthly

),

joined as (

    select
        trailing_churn.*,
        coalesce(currency_exponents.exponent, 2) as currency_exponent,
        -- 12 months of history: the month a year before is one of the account's months in the currency.
        case
            when cast({{ dbt.dateadd('month', -12, 'trailing_churn.month') }} as date) >= history_starts.first_month
                then 1
            else 0
        end as has_year_of_history,
        year_ago_base.base_customers,
        year_ago_base.base_mrr,
        year_ago_base.base_current_mrr,
        year_ago_base.base_retained_mrr
    from trailing_churn
    inner join history_starts
        on trailing_churn.account_id = history_starts.account_id
            and trailing_churn.currency = history_starts.currency
    left join year_ago_base
        on trailing_churn.account_id = year_ago_base.account_id
            and trailing_churn.currency = year_ago_base.currency
            and trailing_churn.month = year_ago_base.month
    left join currency_exponents
        on trailing_churn.currency = currency_exponents.currency

),

final as (

    select
        -- ids
        account_id,

        -- strings
        currency,

        -- dates
        month,

        -- numerics: 12-month revenue retention, null before 12 months of history
        case when has_year_of_history = 1 then cast(coalesce(base_customers, 0) as {{ dbt.type_bigint() }}) end as base_customers,
        case when has_year_of_history = 1 then cast(coalesce(base_mrr, 0) as {{ dbt.type_numeric() }}) end as base_mrr,
        case
            when has_year_of_history = 1 then cast(coalesce(base_current_mrr, 0) as {{ dbt.type_numeric() }})
        end as base_current_mrr,
        case
            when has_year_of_history = 1 then cast(coalesce(base_retained_mrr, 0) as {{ dbt.type_numeric() }})
        end as base_retained_mrr,
        {{ mrr_ratio('base_current_mrr', 'base_mrr') }} as net_revenue_retention_12m,
        {{ mrr_ratio('base_retained_mrr', 'base_mrr') }} as gross_revenue_retention_12m,

        -- numerics: ARPA, churn and LTV; ARPA and LTV rounded to the currency's minor unit, as shown
        cast(customers as {{ dbt.type_bigint() }}) as customers,
        cast(
            case when customers > 0 then {{ round_to_minor_unit(mrr_divide('mrr', 'customers'), 'currency_exponent') }} end
            as {{ dbt.type_numeric() }}
        ) as arpa,
        {{ mrr_ratio('churn_rate_sum', 'churn_rate_months') }} as avg_customer_churn_rate_12m,
        cast(churn_rate_months as {{ dbt.type_bigint() }}) as churn_rate_months,
        -- ARPA ÷ average churn rate = (mrr ÷ customers) ÷ (churn_rate_sum ÷ churn_rate_months), as one exact
        -- division of the unrounded figures, then rounded. Null without customers or when no customer churned.
        cast(
            case
                when customers > 0 and churn_rate_sum > 0
                    then {{ round_to_minor_unit(mrr_divide('mrr * churn_rate_months', 'customers * churn_rate_sum'), 'currency_exponent') }}
            end
            as {{ dbt.type_numeric() }}
        ) as ltv,

        -- as of: the month not over yet, and the instant the figures are taken at
        is_partial_month,
        as_of_at

    from joined

)

select * from final
