-- In its own month a cohort is whole: every customer retained, with the MRR it started with, both rates 1.
-- Returns the cohort months that fall short.

with

cohorts as (

    select * from {{ ref('analytics__customer_cohorts') }}

)

select *
from cohorts
where months_since_cohort = 0
    and (
        month <> cohort_month
        or retained_customers <> cohort_customers
        or retained_mrr <> cohort_starting_mrr
        or logo_retention_rate <> 1
        or mrr_retention_rate <> 1
    )
