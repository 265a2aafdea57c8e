namespace SandboxRunner.Configuration;

/// <summary>The OCI runtime field (issue 27: tasks under gVisor).</summary>
public sealed partial record RunnerConfig
{
    /// <summary>
    /// <c>runtime</c>: the OCI runtime task and setup containers run under, a name the engine lists (<c>runc</c>, or
    /// <c>runsc</c> for gVisor); null for the engine's default (runc on a stock engine). An environment may name its own.
    /// The runner's own helpers (the egress proxy, the network holders) always run under the engine's default.
    /// </summary>
    public string? Runtime { get; init; }
}
