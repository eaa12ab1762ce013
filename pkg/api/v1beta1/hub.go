package v1beta1

// Hub marks v1beta1 as the version every other DGDR version converts
// through (controller-runtime's conversion.Hub).
func (*DynamoGraphDeploymentRequest) Hub() {}
