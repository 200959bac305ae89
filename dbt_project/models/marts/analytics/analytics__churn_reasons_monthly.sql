-- The analysts' `analytics.churn_reasons_monthly`: one row per account, currency and month in which any
-- subscription ended canceled (trial cancellations aside: analytics.trials_monthly counts them), summing
-- analytics.subscription_churn by churn type and by the customer's feedback.

with

subscription_churn as (

    select * from {{ ref('analytics__subscription_churn') }}

),

churned as (

    select *
    from subscription_churn
    where not is_trial_cancellation

),

monthly as (

    select
        account_id,
        currency,
        churn_month as month,
        count(*) as churned_subscriptions,
        sum(case when churn_type = 'voluntary' then 1 else 0 end) as voluntary_churned_subscriptions,
        sum(case when churn_type = 'involuntary' then 1 else 0 end) as involuntary_churned_subscriptions,
        sum(case when churn_type = 'other' then 1 else 0 end) as other_churned_subscriptions,
        sum(mrr_before_churn) as churned_mrr,
        sum(case when churn_type = 'voluntary' then mrr_before_churn else 0 end) as voluntary_churned_mrr,
        sum(case when churn_type = 'involuntary' then mrr_before_churn else 0 end) as involuntary_churned_mrr,
        sum(case when churn_type = 'other' then mrr_before_churn else 0 end) as other_churned_mrr,
        sum(case when cancellation_feedback is not null then 1 else 0 end) as subscriptions_with_feedback,
        sum(case when cancellation_feedback = 'too_expensive' then 1 else 0 end) as feedback_too_expensive,
        sum(case when cancellation_feedback = 'missing_features' then 1 else 0 end) as feedback_missing_features,
        sum(case when cancellation_feedback = 'switched_service' then 1 else 0 end) as feedback_switched_service,
        sum(case when cancellation_feedback = 'unused' then 1 else 0 end) as feedback_unused,
        sum(case when cancellation_feedback = 'customer_service' then 1 else 0 end) as feedback_customer_service,
        sum(case when cancellation_feedback = 'too_complex' then 1 else 0 end) as feedback_too_complex,
        sum(case when cancellation_feedback = 'low_quality' then 1 else 0 end) as feedback_low_quality,
        sum(case when cancellation_feedback = 'other' then 1 else 0 end) as feedback_other,
        sum(case when cancellation_comment is not null then 1 else 0 end) as subscriptions_with_comment
    from churned
    group by account_id, currency, churn_month

),

final as (

    select
        -- ids
        account_id,

        -- strings
        currency,

        -- dates
        month,

        -- numerics
        cast(churned_subscriptions as {{ dbt.type_bigint() }}) as churned_subscriptions,
        cast(voluntary_churned_subscriptions as {{ dbt.type_bigint() }}) as voluntary_churned_subscriptions,
        cast(involuntary_churned_subscriptions as {{ dbt.type_bigint() }}) as involuntary_churned_subscriptions,
        cast(other_churned_subscriptions as {{ dbt.type_bigint() }}) as other_churned_subscriptions,
        cast(churned_mrr as {{ dbt.type_numeric() }}) as churned_mrr,
        cast(voluntary_churned_mrr as {{ dbt.type_numeric() }}) as voluntary_churned_mrr,
        cast(involuntary_churned_mrr as {{ dbt.type_numeric() }}) as involuntary_churned_mrr,
        cast(other_churned_mrr as {{ dbt.type_numeric() }}) as other_churned_mrr,
        cast(subscriptions_with_feedback as {{ dbt.type_bigint() }}) as subscriptions_with_feedback,
        cast(feedback_too_expensive as {{ dbt.type_bigint() }}) as feedback_too_expensive,
        cast(feedback_missing_features as {{ dbt.type_bigint() }}) as feedback_missing_features,
        cast(feedback_switched_service as {{ dbt.type_bigint() }}) as feedback_switched_service,
        cast(feedback_unused as {{ dbt.type_bigint() }}) as feedback_unused,
        cast(feedback_customer_service as {{ dbt.type_bigint() }}) as feedback_customer_service,
        cast(feedback_too_complex as {{ dbt.type_bigint() }}) as feedback_too_complex,
        cast(feedback_low_quality as {{ dbt.type_bigint() }}) as feedback_low_quality,
        cast(feedback_other as {{ dbt.type_bigint() }}) as feedback_other,
        cast(subscriptions_with_comment as {{ dbt.type_bigint() }}) as subscriptions_with_comment

    from monthly

)

select * from final
