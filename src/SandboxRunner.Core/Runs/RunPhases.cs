using System.Diagnostics;

namespace SandboxRunner.Runs;

/// <summary>
/// Where a run's time goes, phase by phase (planning, opening the run, each task's checkout, box, agent, harvest,
/// teardown; each measurement of a bind-mounted tree while the agent runs): one <see cref="Activity"/> per phase on
/// <see cref="SourceName"/>, for the benchmark program and any tracer that listens. Without a listener a phase costs
/// one check and makes nothing.
/// </summary>
public static class RunPhases
{
    public const string SourceName = "SandboxRunner.Runs";

    private static readonly ActivitySource Source = new(SourceName);

    /// <summary>A phase begins; disposing it ends it. Null (nothing to end) when nobody listens.</summary>
    public static Activity? Start(string phase, string? taskId = null)
    {
        var activity = Source.StartActivity(phase, ActivityKind.Internal);
        if (activity is not null && taskId is not null)
        {
            activity.SetTag("task", taskId);
        }

        return activity;
    }
}
