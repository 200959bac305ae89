-- The analysts' `analytics.payouts`: one row per payout, with what it paid out summed by kind, so that each
-- automatic payout can be checked against its items (analytics.payout_items).

with

payouts as (

    select * from {{ ref('stripe__payouts') }}

),

payout_items as (

    select * from {{ ref('analytics__payout_items') }}

),

item_totals as (

    -- Amounts keep Stripe's signs (money out of the balance is negative), so that per payout
    -- charges + refunds + disputes + other - fees = net, and net = the payout's amount once reconciled.
    -- A payout without items (manual, or not reconciled yet) has none of these: null, not zero, below.
    select
        account_id,
        payout_id,
        count(*) as item_count,
        sum(case when source_type = 'charge' then 1 else 0 end) as charge_count,
        sum(case when source_type = 'refund' then 1 else 0 end) as refund_count,
        sum(case when source_type = 'dispute' then 1 else 0 end) as dispute_count,
        sum(case when source_type = 'charge' then amount else 0 end) as charges_amount,
        sum(case when source_type = 'charge' then amount_decimal else 0 end) as charges_amount_decimal,
        sum(case when source_type = 'refund' then amount else 0 end) as refunds_amount,
        sum(case when source_type = 'refund' then amount_decimal else 0 end) as refunds_amount_decimal,
        sum(case when source_type = 'dispute' then amount else 0 end) as disputes_amount,
        sum(case when source_type = 'dispute' then amount_decimal else 0 end) as disputes_amount_decimal,
        sum(case when source_type not in ('charge', 'refund', 'dispute') then amount else 0 end) as other_amount,
        sum(
            case when source_type not in ('charge', 'refund', 'dispute') then amount_decimal else 0 end
        ) as other_amount_decimal,
        sum(fee) as fees,
        sum(fee_decimal) as fees_decimal,
        sum(net) as net,
        sum(net_decimal) as net_decimal,
        min(created_at) as first_item_created_at,
        max(created_at) as last_item_created_at
    from payout_items
    group by account_id, payout_id

),

final as (

    select
        -- ids
        payouts.account_id,
        payouts.payout_id,
        payouts.balance_transaction_id,
        payouts.destination_id,

        -- strings
        payouts.status,
        payouts.reconciliation_status,
        payouts.method,
        payouts.payout_type,
        payouts.currency,

        -- numerics
        payouts.amount,
        payouts.amount_decimal,
        cast(item_totals.item_count as {{ dbt.type_bigint() }}) as item_count,
        cast(item_totals.charge_count as {{ dbt.type_bigint() }}) as charge_count,
        cast(item_totals.refund_count as {{ dbt.type_bigint() }}) as refund_count,
        cast(item_totals.dispute_count as {{ dbt.type_bigint() }}) as dispute_count,
        cast(item_totals.charges_amount as {{ dbt.type_bigint() }}) as charges_amount,
        cast(item_totals.charges_amount_decimal as {{ dbt.type_numeric() }}) as charges_amount_decimal,
        cast(item_totals.refunds_amount as {{ dbt.type_bigint() }}) as refunds_amount,
        cast(item_totals.refunds_amount_decimal as {{ dbt.type_numeric() }}) as refunds_amount_decimal,
        cast(item_totals.disputes_amount as {{ dbt.type_bigint() }}) as disputes_amount,
        cast(item_totals.disputes_amount_decimal as {{ dbt.type_numeric() }}) as disputes_amount_decimal,
        cast(item_totals.other_amount as {{ dbt.type_bigint() }}) as other_amount,
        cast(item_totals.other_amount_decimal as {{ dbt.type_numeric() }}) as other_amount_decimal,
        cast(item_totals.fees as {{ dbt.type_bigint() }}) as fees,
        cast(item_totals.fees_decimal as {{ dbt.type_numeric() }}) as fees_decimal,
        cast(item_totals.net as {{ dbt.type_bigint() }}) as net,
        cast(item_totals.net_decimal as {{ dbt.type_numeric() }}) as net_decimal,

        -- booleans
        payouts.is_automatic,
        item_totals.payout_id is not null as has_items,
        -- The payout is fully explained by its items: they were read (automatic payouts, once reconciled)
        -- and their nets add up to exactly what reached the bank.
        coalesce(item_totals.net = payouts.amount, false) as is_fully_itemized,

        -- timestamps
        payouts.created_at,
        payouts.arrival_at,
        item_totals.first_item_created_at,
        item_totals.last_item_created_at

    from payouts
    left join item_totals
        on payouts.account_id = item_totals.account_id
            and payouts.payout_id = item_totals.payout_id

)

select * from final
