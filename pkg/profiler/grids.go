package profiler

import "fmt"

// SweepContextLength is §12.1: the smaller of the user's cap and the model's.
func SweepContextLength(user, model int, log *Logger) (int, error) {
	switch {
	case user <= 0 && model <= 0:
		return 0, fmt.Errorf("No max_context_length available from args.max_context_length or model_info from HF config; set spec.profilingConfig.config.engine.maxContextLength")
	case user <= 0:
		log.Infof("Using model's maximum context length: %d", model)
		return model, nil
	case model <= 0:
		log.Infof("Using user-provided max_context_length: %d", user)
		return user, nil
	}
	c := min(user, model)
	log.Infof("Using minimum of user-provided and model's maximum context length: %d", c)
	return c, nil
}
