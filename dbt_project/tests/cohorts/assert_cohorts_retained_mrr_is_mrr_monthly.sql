-- Every customer with MRR in a month belongs to one cohort of its currency, so per account, currency and month
-- the cohorts' retained_mrr and retained_customers add up to analytics.mrr_monthly's mrr and customers, and no
-- month of one is missing from the other. Returns the months that differ (1e-6 of slack for rounding).
-- Reads several models: the meta names the one Dagster shows it on, as an asset check.
{{ config(meta={'dagster': {'ref': {'name': 'analytics__customer_cohorts'}}}) }}

with

cohorts as (

    select * from {{ ref('analytics__customer_cohorts') }}

),

mrr_monthly as (

    select * from {{ ref('analytics__mrr_monthly') }}

),

cohort_totals as (

    select
        account_id,
        currency,
        month,
        sum(retained_mrr) as mrr,
        sum(retained_customers) as customers
    from cohorts
    group by account_id, currency, month

)

select
    coalesce(mrr_monthly.account_id, cohort_totals.account_id) as account_id,
    coalesce(mrr_monthly.currency, cohort_totals.currency) as currency,
    coalesce(mrr_monthly.month, cohort_totals.month) as month,
    mrr_monthly.mrr,
    cohort_totals.mrr as cohort_mrr,
    mrr_monthly.customers,
    cohort_totals.customers as cohort_customers
from mrr_monthly
full outer join cohort_totals
    on mrr_monthly.account_id = cohort_totals.account_id
        and mrr_monthly.currency = cohort_totals.currency
        and mrr_monthly.month = cohort_totals.month
where mrr_monthly.month is null
    -- A month before the currency's first cohort has no cohort row: it must then have no MRR either.
    or abs(mrr_monthly.mrr - coalesce(cohort_totals.mrr, 0)) > 0.000001
    or mrr_monthly.customers <> coalesce(cohort_totals.customers, 0)
