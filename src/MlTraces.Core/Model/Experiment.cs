namespace MlTraces
{
    public sealed class Experiment
    {
        public string ExperimentId { get; set; } = "";
        public string Name { get; set; } = "";
        public string? ArtifactLocation { get; set; }
        public string LifecycleStage { get; set; } = "active";
        public string? Workspace { get; set; }
        public override string ToString() => $"{Name} ({ExperimentId})";
    }
}
