-- analytics.mrr_monthly: MRR, its movements and rates per account, currency and month, for every month since
-- the account's first subscription in that currency (months without MRR included, at zero). Sums of
-- customer_mrr_monthly, whose rows hold every customer's change, so net_new_mrr is exactly the change of mrr.
-- MRR and its movements keep 6 decimals, so that they sum and tie out exactly; ARR and ARPA, figures to show,
-- are rounded to the currency's minor unit (12 x 438.833333 is 5,265.999996, shown as 5,266.00).

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

as_of as (

    -- The instant the figures are as of: the evaluation instant of the account's current month (the var
    -- mrr_as_of, by default the time of the run), the latest of its months.
    select
        account_id,
        max(evaluated_at) as as_of_at
    from months
    group by account_id

),

movements as (

    select
        account_id,
        currency,
        month,
        sum(mrr) as mrr,
        sum(previous_mrr) as starting_mrr,
        sum(case when mrr > 0 then 1 else 0 end) as customers,
        sum(case when previous_mrr > 0 then 1 else 0 end) as starting_customers,
        sum(case when movement = 'new' then mrr_change else 0 end) as new_mrr,
        sum(case when movement = 'reactivation' then mrr_change else 0 end) as reactivation_mrr,
        sum(case when movement = 'expansion' then mrr_change else 0 end) as expansion_mrr,
        sum(case when movement = 'contraction' then -mrr_change else 0 end) as contraction_mrr,
        sum(case when movement = 'churn' then previous_mrr else 0 end) as churned_mrr,
        sum(case when movement = 'new' then 1 else 0 end) as new_customers,
        sum(case when movement = 'reactivation' then 1 else 0 end) as reactivated_customers,
        sum(case when movement = 'churn' then 1 else 0 end) as churned_customers
    from customer_mrr
    group by account_id, currency, month

),

filled as (

    select
        months.account_id,
        months.currency,
        months.month,
        months.is_partial_month,
        as_of.as_of_at,
        currency_exponents.exponent,
        coalesce(movements.mrr, 0) as mrr,
        coalesce(movements.starting_mrr, 0) as starting_mrr,
        coalesce(movements.customers, 0) as customers,
        coalesce(movements.starting_customers, 0) as starting_customers,
        coalesce(movements.new_mrr, 0) as new_mrr,
        coalesce(movements.reactivation_mrr, 0) as reactivation_mrr,
        coalesce(movements.expansion_mrr, 0) as expansion_mrr,
        coalesce(movements.contraction_mrr, 0) as contraction_mrr,
        coalesce(movements.churned_mrr, 0) as churned_mrr,
        coalesce(movements.new_customers, 0) as new_customers,
        coalesce(movements.reactivated_customers, 0) as reactivated_customers,
        coalesce(movements.churned_customers, 0) as churned_customers
    from months
    inner join as_of
        on months.account_id = as_of.account_id
    left join currency_exponents
        on months.currency = currency_exponents.currency
    left join movements
        on months.account_id = movements.account_id
            and months.currency = movements.currency
            and months.month = movements.month

),

final as (

    select
        -- ids
        account_id,

        -- strings
        currency,

        -- dates
        month,

        -- numerics: MRR and its movements, in major units; ARR rounded to the currency's minor unit
        cast(mrr as {{ dbt.type_numeric() }}) as mrr,
        {{ round_to_minor_unit('12 * mrr', 'exponent') }} as arr,
        cast(customers as {{ dbt.type_bigint() }}) as customers,
        cast(new_mrr as {{ dbt.type_numeric() }}) as new_mrr,
        cast(reactivation_mrr as {{ dbt.type_numeric() }}) as reactivation_mrr,
        cast(expansion_mrr as {{ dbt.type_numeric() }}) as expansion_mrr,
        cast(contraction_mrr as {{ dbt.type_numeric() }}) as contraction_mrr,
        cast(churned_mrr as {{ dbt.type_numeric() }}) as churned_mrr,
        cast(
            new_mrr + reactivation_mrr + expansion_mrr - contraction_mrr - churned_mrr as {{ dbt.type_numeric() }}
        ) as net_new_mrr,
        cast(new_customers as {{ dbt.type_bigint() }}) as new_customers,
        cast(reactivated_customers as {{ dbt.type_bigint() }}) as reactivated_customers,
        cast(churned_customers as {{ dbt.type_bigint() }}) as churned_customers,

        -- numerics: rates, null when their denominator is zero; arpa (money) rounded to the minor unit
        {{ mrr_ratio('churned_customers', 'starting_customers') }} as customer_churn_rate,
        {{ mrr_ratio('churned_mrr + contraction_mrr', 'starting_mrr') }} as gross_mrr_churn_rate,
        {{ mrr_ratio('starting_mrr + expansion_mrr - contraction_mrr - churned_mrr', 'starting_mrr') }} as net_mrr_retention,
        {{ mrr_ratio_in_minor_units('mrr', 'customers', 'exponent') }} as arpa,

        -- numerics: the start of the month (the previous month's end), the rates' denominators
        cast(starting_mrr as {{ dbt.type_numeric() }}) as starting_mrr,
        cast(starting_customers as {{ dbt.type_bigint() }}) as starting_customers,

        -- as of: the last columns, after the contract's. A month evaluated before its last second is the
        -- current one, evaluated at as_of_at: its figures still move until the month is over.
        is_partial_month,
        as_of_at

    from filled

)

select * from final
