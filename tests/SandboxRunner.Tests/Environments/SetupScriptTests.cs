using SandboxRunner.Environments;

namespace SandboxRunner.Tests.Environments;

/// <summary>The script a setup container runs.</summary>
public sealed class SetupScriptTests
{
    [Fact]
    public void Each_commands_stderr_joins_its_stdout_so_its_lines_cannot_overtake_its_marker()
    {
        var script = SetupRun.Script(["npm ci", "echo broken >&2; exit 3"], proxyUrl: null).Split('\n');

        Assert.Contains("/bin/sh -c 'npm ci' 2>&1", script);
        Assert.Contains("/bin/sh -c 'echo broken >&2; exit 3' 2>&1", script);
        Assert.True(
            Array.FindIndex(script, l => l.Contains("2/2] echo broken", StringComparison.Ordinal)) <
            Array.FindIndex(script, l => l.StartsWith("/bin/sh -c 'echo broken", StringComparison.Ordinal)));
    }
}
