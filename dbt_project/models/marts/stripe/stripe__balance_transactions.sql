-- The clean `stripe.balance_transactions` table.

with

balance_transactions as (

    select * from {{ ref('stg_stripe__balance_transactions') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    -- Stripe gives a balance transaction no livemode: it goes with its source (a charge, refund, payout or
    -- dispute), as the var stripe_livemode keeps it; one with another source (an adjustment, a fee) stays.
    select * from balance_transactions
    where {{ livemode_parent_filter('balance_transactions', 'source_id', 'charges', 'stripe__charges', 'charge_id') }}
        and {{ livemode_parent_filter('balance_transactions', 'source_id', 'refunds', 'stripe__refunds', 'refund_id') }}
        and {{ livemode_parent_filter('balance_transactions', 'source_id', 'payouts', 'stripe__payouts', 'payout_id') }}
        and {{ livemode_parent_filter('balance_transactions', 'source_id', 'disputes', 'stripe__disputes', 'dispute_id') }}

)

select * from final
