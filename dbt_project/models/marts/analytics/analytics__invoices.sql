-- The analysts' `analytics.invoices`: one row per invoice, with its line count, how long it took to be paid
-- and whether it is overdue now.

with

invoices as (

    select * from {{ ref('stripe__invoices') }}

),

invoice_line_items as (

    select * from {{ ref('stripe__invoice_line_items') }}

),

line_counts as (

    select
        account_id,
        invoice_id,
        count(*) as line_item_count
    from invoice_line_items
    group by account_id, invoice_id

),

final as (

    select
        -- ids
        invoices.account_id,
        invoices.invoice_id,
        invoices.customer_id,
        invoices.subscription_id,

        -- strings
        invoices.invoice_number,
        invoices.status,
        invoices.billing_reason,
        invoices.collection_method,
        invoices.customer_email,
        invoices.currency,

        -- numerics
        invoices.subtotal,
        invoices.subtotal_decimal,
        invoices.total_discount_amount as discount,
        invoices.total_discount_amount_decimal as discount_decimal,
        invoices.tax,
        invoices.tax_decimal,
        invoices.total,
        invoices.total_decimal,
        invoices.amount_due,
        invoices.amount_due_decimal,
        invoices.amount_paid,
        invoices.amount_paid_decimal,
        invoices.amount_remaining,
        invoices.amount_remaining_decimal,
        invoices.attempt_count,
        coalesce(line_counts.line_item_count, 0) as line_item_count,
        -- Days from issue (finalization) to payment, with fractions: 0.5 is twelve hours.
        case
            when invoices.paid_at is not null
                then cast(
                        {{ dbt.datediff('coalesce(invoices.finalized_at, invoices.created_at)', 'invoices.paid_at', 'second') }}
                        / 86400.0 as {{ dbt.type_numeric() }}
                    )
        end as days_to_pay,

        -- booleans
        -- Open and past due at build time: a send_invoice invoice after its due date; an automatically
        -- charged one (due at once, no due date) once a payment attempt failed.
        coalesce(
            invoices.status = 'open'
            and (
                invoices.due_at < {{ to_utc_timestamp(dbt.current_timestamp()) }}
                or (invoices.due_at is null and invoices.attempt_count > 0)
            ),
            false
        ) as is_overdue,
        invoices.is_deleted,

        -- timestamps
        invoices.created_at,
        invoices.finalized_at,
        invoices.due_at,
        invoices.paid_at,
        invoices.voided_at,
        invoices.marked_uncollectible_at,
        invoices.period_start_at,
        invoices.period_end_at

    from invoices
    left join line_counts
        on invoices.account_id = line_counts.account_id
            and invoices.invoice_id = line_counts.invoice_id

)

select * from final
