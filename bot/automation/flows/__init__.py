"""Bot flows: state machines stored as data (`spec`), stepped purely (`runner`), stored per
conversation (`store`), and run live on customer events (`engine`)."""
