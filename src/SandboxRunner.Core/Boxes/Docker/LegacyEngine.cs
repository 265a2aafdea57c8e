namespace SandboxRunner.Boxes.Docker;

/// <summary>
/// A backend that can still be driven as an <see cref="IContainerEngine"/>: what Environments needs until it moves
/// onto <see cref="ITaskBackend"/> (issue 24), and nothing else. The fake backend of the unit tests implements it too.
/// </summary>
internal interface ILegacyEngineHolder
{
    IContainerEngine Engine { get; }
}

/// <summary>The <see cref="IContainerEngine"/> view of a backend, for the callers not yet on the seam (Environments).</summary>
internal static class LegacyEngine
{
    public static IContainerEngine Of(ITaskBackend backend) => backend switch
    {
        ILegacyEngineHolder holder => holder.Engine,
        DockerBackend docker => new DockerEngine(docker),
        _ => throw new NotSupportedException($"the {backend.Name} backend runs no environments yet"),
    };
}
