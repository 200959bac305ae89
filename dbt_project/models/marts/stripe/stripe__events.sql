-- The clean `stripe.events` table. dbt model names are unique project-wide and the analytics schema has
-- tables of the same plain names, so the model is stripe__events and the alias names the table.
{{ config(alias='events') }}

with

events as (

    select * from {{ ref('stg_stripe__events') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    select * from events

)

select * from final
