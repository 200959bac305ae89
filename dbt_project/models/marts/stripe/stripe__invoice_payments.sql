-- The clean `stripe.invoice_payments` table. dbt model names are unique project-wide and the analytics schema
-- has tables of the same plain names, so the model is stripe__invoice_payments and the alias names the table.
{{ config(alias='invoice_payments') }}

with

invoice_payments as (

    select * from {{ ref('stg_stripe__invoice_payments') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    select * from invoice_payments

)

select * from final
