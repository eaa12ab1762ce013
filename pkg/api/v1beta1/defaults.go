package v1beta1

// SetDefaults applies the defaults the CRD schema gives, as the API server
// does when it decodes a request or reads from storage. Conversion uses it
// to tell a value the user wrote from one the API server filled in.
func SetDefaults(d *DynamoGraphDeploymentRequest) {
	s := &d.Spec
	if s.Backend == "" {
		s.Backend = BackendAuto
	}
	if s.SearchStrategy == "" {
		s.SearchStrategy = SearchRapid
	}
	if s.AutoApply == nil {
		t := true
		s.AutoApply = &t
	}
	if w := s.Workload; w != nil {
		if w.ISL == nil {
			v := DefaultISL
			w.ISL = &v
		}
		if w.OSL == nil {
			v := DefaultOSL
			w.OSL = &v
		}
	}
	if mc := s.ModelCache; mc != nil && mc.PVCMountPath == "" {
		mc.PVCMountPath = DefaultPVCMountPath
	}
	if hw := s.Hardware; hw != nil && hw.DeviceType == "" {
		hw.DeviceType = DeviceCUDA
	}
}
