-- semantic.customer_cohorts: each customer's cohort, the first month in which it had MRR, in any currency. A
-- dimension of the semantic layer (customer__cohort): MRR, customers and payments by the month customers started.
-- Read from analytics.customer_mrr_monthly, whose first row of a customer may be at zero (a 100 % discount), so
-- the cohort is the first month with mrr > 0, as the movement `new` is.

with

customer_mrr as (

    select * from {{ ref('analytics__customer_mrr_monthly') }}

),

final as (

    select
        -- ids
        account_id,
        customer_id,

        -- dates
        min(month) as cohort_month

    from customer_mrr
    where mrr > 0
    group by account_id, customer_id

)

select * from final
