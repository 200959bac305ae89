-- analytics.customer_cohorts: customers grouped by the month they first had MRR (their cohort), followed every
-- month from then to the current month: how many are still paying, and how much MRR they bring. Per currency,
-- like all MRR figures: a customer with MRR in two currencies is in one cohort of each.
-- Every customer with MRR in a month belongs to exactly one cohort of its currency, so the cohorts' retained_mrr
-- of a month add up to mrr_monthly.mrr (tests/cohorts/assert_cohorts_retained_mrr_is_mrr_monthly).

with

customer_mrr as (

    select * from {{ ref('analytics__customer_mrr_monthly') }}

),

months as (

    select * from {{ ref('int_stripe__mrr_months') }}

),

members as (

    -- The customer's cohort is the month of its `new` movement: its first month with MRR (customer_mrr_monthly
    -- has one per customer and currency). A later reactivation keeps the customer in its first cohort.
    select
        account_id,
        customer_id,
        currency,
        month as cohort_month,
        mrr as starting_mrr
    from customer_mrr
    where movement = 'new'

),

cohorts as (

    select
        account_id,
        currency,
        cohort_month,
        count(*) as cohort_customers,
        sum(starting_mrr) as cohort_starting_mrr
    from members
    group by account_id, currency, cohort_month

),

cohort_months as (

    -- Every month from the cohort's month to the current month, months where nobody is left included.
    select
        cohorts.account_id,
        cohorts.currency,
        cohorts.cohort_month,
        months.month,
        cohorts.cohort_customers,
        cohorts.cohort_starting_mrr
    from cohorts
    inner join months
        on cohorts.account_id = months.account_id
            and cohorts.currency = months.currency
            and cohorts.cohort_month <= months.month

),

retained as (

    -- Cohort members with MRR in the month, whether they stayed throughout or came back (a reactivation).
    select
        members.account_id,
        members.currency,
        members.cohort_month,
        customer_mrr.month,
        count(*) as retained_customers,
        sum(customer_mrr.mrr) as retained_mrr
    from members
    inner join customer_mrr
        on members.account_id = customer_mrr.account_id
            and members.customer_id = customer_mrr.customer_id
            and members.currency = customer_mrr.currency
    where customer_mrr.mrr > 0
    group by members.account_id, members.currency, members.cohort_month, customer_mrr.month

),

final as (

    select
        -- ids
        cohort_months.account_id,

        -- strings
        cohort_months.currency,

        -- dates
        cohort_months.cohort_month,
        cohort_months.month,

        -- numerics
        cast({{ dbt.datediff('cohort_months.cohort_month', 'cohort_months.month', 'month') }} as {{ dbt.type_bigint() }}) as months_since_cohort,
        cast(cohort_months.cohort_customers as {{ dbt.type_bigint() }}) as cohort_customers,
        cast(cohort_months.cohort_starting_mrr as {{ dbt.type_numeric() }}) as cohort_starting_mrr,
        cast(coalesce(retained.retained_customers, 0) as {{ dbt.type_bigint() }}) as retained_customers,
        cast(coalesce(retained.retained_mrr, 0) as {{ dbt.type_numeric() }}) as retained_mrr,
        {{ mrr_ratio('coalesce(retained.retained_customers, 0)', 'cohort_months.cohort_customers') }} as logo_retention_rate,
        {{ mrr_ratio('coalesce(retained.retained_mrr, 0)', 'cohort_months.cohort_starting_mrr') }} as mrr_retention_rate,

        -- as of: the month not over yet, and the instant the figures are taken at
        months.is_partial_month,
        months.as_of_at

    from cohort_months
    inner join months
        on cohort_months.account_id = months.account_id
            and cohort_months.currency = months.currency
            and cohort_months.month = months.month
    left join retained
        on cohort_months.account_id = retained.account_id
            and cohort_months.currency = retained.currency
            and cohort_months.cohort_month = retained.cohort_month
            and cohort_months.month = retained.month

)

select * from final
