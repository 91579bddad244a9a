alter table versions
    alter column num_no_build drop not null;
