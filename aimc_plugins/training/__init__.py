"""Training: what one run is (its identity), how names become an aihwkit RPU configuration
(periphery and transfer included), seeding, and the training loop. Imports only the host and
devices layers."""
