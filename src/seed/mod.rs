//! Demo and load-test data (`boxoffice seed --demo | --scale N`).
