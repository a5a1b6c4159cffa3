-- Roles and database for Switchyard (see README, "Database roles"). Change the passwords.
CREATE ROLE switchyard_owner LOGIN CREATEDB PASSWORD 'switchyard_owner';
CREATE ROLE switchyard_app LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD 'switchyard_app';
CREATE DATABASE switchyard OWNER switchyard_owner;
