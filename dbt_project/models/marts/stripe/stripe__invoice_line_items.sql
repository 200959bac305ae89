-- The clean `stripe.invoice_line_items` table. dbt model names are unique project-wide and the analytics schema has
-- tables of the same plain names, so the model is stripe__invoice_line_items and the alias names the table.
{{ config(alias='invoice_line_items') }}

with

invoice_line_items as (

    select * from {{ ref('stg_stripe__invoice_line_items') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    select * from invoice_line_items

)

select * from final
