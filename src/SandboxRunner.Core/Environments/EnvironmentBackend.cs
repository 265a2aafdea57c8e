using SandboxRunner.Boxes;

namespace SandboxRunner.Environments;

/// <summary>
/// What environments need of a backend beyond running boxes: snapshots (a set-up box committed as an image, a task's
/// changes listed against its run image, the bytes it wrote measured while it runs). A backend without them is
/// refused before anything is built, naming it and what it lacks.
/// </summary>
public static class EnvironmentBackend
{
    /// <summary>Why environments cannot run on <paramref name="backend"/>, or null when they can.</summary>
    public static string? Refusal(ITaskBackend backend) => backend.Capabilities.Snapshots
        ? null
        : $"the '{backend.Name}' backend lacks the snapshots capability (committing a box as an image, listing a box's changes, measuring what it wrote), " +
          "which environments are built and harvested with; run tasks that use an environment on the docker backend (backend: \"docker\"), " +
          "or give them environment: \"none\"";

    /// <summary>Throws an <see cref="EnvironmentException"/> (in the <c>environment</c> section; callers name theirs) when <paramref name="backend"/> cannot run environments.</summary>
    public static void Require(ITaskBackend backend)
    {
        if (Refusal(backend) is { } refusal)
        {
            throw new EnvironmentException(null, refusal);
        }
    }
}
