namespace StreamTriggers.Timers;

/// <summary>What a timer does when it comes due.</summary>
public enum TimerKind : byte
{
    /// <summary>A session's inactivity deadline: closes the period and may fire an abandonment trigger.</summary>
    SessionDeadline = 1,

    /// <summary>A closed session's retention ends: its state is dropped.</summary>
    SessionExpiry = 2,

    /// <summary>A customer's earliest long timer (held trigger, reminder, cross-sell, replenishment, win-back, segment, expiry).</summary>
    CustomerDue = 3,
}
