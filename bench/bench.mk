bench: install
	@echo "bench harness not written yet"
