// SPDX-License-Identifier: Apache-2.0
// The channels screen's words (channels.js), one table per locale; {name} marks a value put in as text.

export const W = {
  'zh-Hans': {
    channels: '联系渠道', intro: '可以通过哪些渠道联系用户、用于哪些处理目的、在什么时段。发送前的“能否联系”判断（/v1/decide）按这些规则执行。',
    channel: '渠道', purposes: '适用的处理目的', hours: '可联系时段', anyTime: '任何时间', anyPurpose: '任何目的',
    editOne: '编辑 {id}', newChannel: '新建渠道', editChannel: '编辑渠道 {id}', none: '还没有配置渠道。', allConfigured: '所有渠道都已配置。',
    channelHint: '每个渠道只能配置一次。', channelFixed: '渠道创建后不能更改。',
    purposesHint: '可选：只允许为这些目的使用此渠道；不选表示任何目的。', noPurposes: '还没有处理目的。',
    limitHours: '限制可联系时段', limitHint: '只在下面的时段内允许联系（按下面的固定时区计算）。',
    timeZone: '时区', timeZoneHint: 'IANA 时区，如 Asia/Shanghai、Asia/Hong_Kong。', from: '开始', to: '结束',
    clockHint: '24 小时制 HH:MM。', toHint: 'HH:MM，可为 24:00；早于开始时间表示跨夜。', days: '星期',
    timeZoneRule: '应为 IANA 时区，如 Asia/Shanghai。', clockRule: '应为 HH:MM（00:00–24:00）。', sameTimes: '结束时间不能与开始时间相同。',
    oneDay: '至少选择一天。',
    changedMeanwhile: '这个渠道刚被其他人修改过，已重新加载最新内容，请重新编辑。', created: '已创建渠道 {id}。', saved: '已保存渠道 {id}。',
  },
  'zh-Hant': {
    channels: '聯絡渠道', intro: '可以透過哪些渠道聯絡使用者、用於哪些處理目的、在什麼時段。傳送前的「能否聯絡」判斷（/v1/decide）按這些規則執行。',
    channel: '渠道', purposes: '適用的處理目的', hours: '可聯絡時段', anyTime: '任何時間', anyPurpose: '任何目的',
    editOne: '編輯 {id}', newChannel: '新增渠道', editChannel: '編輯渠道 {id}', none: '還沒有設定渠道。', allConfigured: '所有渠道都已設定。',
    channelHint: '每個渠道只能設定一次。', channelFixed: '渠道建立後不能更改。',
    purposesHint: '可選：只允許為這些目的使用此渠道；不選表示任何目的。', noPurposes: '還沒有處理目的。',
    limitHours: '限制可聯絡時段', limitHint: '只在下面的時段內允許聯絡（按下面的固定時區計算）。',
    timeZone: '時區', timeZoneHint: 'IANA 時區，如 Asia/Shanghai、Asia/Hong_Kong。', from: '開始', to: '結束',
    clockHint: '24 小時制 HH:MM。', toHint: 'HH:MM，可為 24:00；早於開始時間表示跨夜。', days: '星期',
    timeZoneRule: '應為 IANA 時區，如 Asia/Shanghai。', clockRule: '應為 HH:MM（00:00–24:00）。', sameTimes: '結束時間不能與開始時間相同。',
    oneDay: '至少選擇一天。',
    changedMeanwhile: '這個渠道剛被其他人修改過，已重新載入最新內容，請重新編輯。', created: '已建立渠道 {id}。', saved: '已儲存渠道 {id}。',
  },
  en: {
    channels: 'Channels', intro: 'How people may be contacted, for which purposes and at what hours. The "may we contact" check before sending (/v1/decide) applies these rules.',
    channel: 'Channel', purposes: 'Purposes allowed', hours: 'Contact hours', anyTime: 'Any time', anyPurpose: 'Any purpose',
    editOne: 'Edit {id}', newChannel: 'New channel', editChannel: 'Edit channel {id}', none: 'No channels configured yet.', allConfigured: 'Every channel is configured.',
    channelHint: 'Each channel is configured once.', channelFixed: 'The channel cannot change once created.',
    purposesHint: 'Optional: the channel is used for these purposes only; none ticked means any purpose.', noPurposes: 'No purposes yet.',
    limitHours: 'Limit the contact hours', limitHint: 'Contact is allowed only in the hours below, in the time zone below.',
    timeZone: 'Time zone', timeZoneHint: 'An IANA time zone such as Asia/Shanghai or Asia/Hong_Kong.', from: 'From', to: 'To',
    clockHint: '24-hour HH:MM.', toHint: 'HH:MM, 24:00 allowed; earlier than the start means overnight.', days: 'Days',
    timeZoneRule: 'An IANA time zone such as Asia/Shanghai.', clockRule: 'HH:MM (00:00–24:00).', sameTimes: 'The end must differ from the start.',
    oneDay: 'Choose at least one day.',
    changedMeanwhile: 'Someone else changed this channel meanwhile: the latest is loaded, please edit again.', created: 'Channel {id} created.', saved: 'Channel {id} saved.',
  },
};
