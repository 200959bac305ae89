-- analytics.churn_reasons_monthly: the voluntary, involuntary and other columns add up to the totals, and the
-- totals are analytics.subscription_churn's subscriptions (trial cancellations aside) and their MRR before churn,
-- per account, currency and month. Returns the rows that differ.
{{ config(meta={'dagster': {'ref': {'name': 'analytics__churn_reasons_monthly'}}}) }}

with

monthly as (

    select * from {{ ref('analytics__churn_reasons_monthly') }}

),

subscriptions as (

    select
        account_id,
        currency,
        churn_month as month,
        count(*) as churned_subscriptions,
        sum(mrr_before_churn) as churned_mrr
    from {{ ref('analytics__subscription_churn') }}
    where not is_trial_cancellation
    group by account_id, currency, churn_month

)

select
    coalesce(monthly.account_id, subscriptions.account_id) as account_id,
    coalesce(monthly.currency, subscriptions.currency) as currency,
    coalesce(monthly.month, subscriptions.month) as month,
    monthly.churned_mrr as monthly_churned_mrr,
    subscriptions.churned_mrr as subscriptions_churned_mrr
from monthly
full outer join subscriptions
    on monthly.account_id = subscriptions.account_id
        and monthly.currency = subscriptions.currency
        and monthly.month = subscriptions.month
where monthly.account_id is null
    or subscriptions.account_id is null
    or monthly.churned_subscriptions <> subscriptions.churned_subscriptions
    or monthly.churned_mrr <> subscriptions.churned_mrr
    or monthly.voluntary_churned_subscriptions + monthly.involuntary_churned_subscriptions
    + monthly.other_churned_subscriptions <> monthly.churned_subscriptions
    or monthly.voluntary_churned_mrr + monthly.involuntary_churned_mrr + monthly.other_churned_mrr
    <> monthly.churned_mrr
