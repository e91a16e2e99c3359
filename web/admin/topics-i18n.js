// SPDX-License-Identifier: Apache-2.0
// The topics screen's words (topics.js), one table per locale; {name} marks a value put in as text.

export const W = {
  'zh-Hans': {
    topics: '订阅主题', intro: '用户可以单独关闭的消息主题（优惠券、新品、活动……），每个主题属于它所服务的处理目的。弹窗和偏好中心会列出策略所涉及的主题。',
    tid: '编号', name: '名称', purposes: '所属处理目的', editOne: '编辑 {id}', newTopic: '新建主题', editTopic: '编辑主题 {id}',
    none: '还没有配置主题。', names: '名称（各语言）', tidHint: '小写字母、数字和 . _ -，最多 64 个字符，如 coupons。创建后不能更改。',
    tidFixed: '编号创建后不能更改。', purposesHint: '至少选择一个：这些目的被撤回或拒绝时，主题也不会再发送。',
    noPurposes: '还没有处理目的：请先在“处理目的”中创建。', onePurpose: '至少选择一个处理目的。',
    changedMeanwhile: '这个主题刚被其他人修改过，已重新加载最新内容，请重新编辑。', created: '已创建主题 {id}。', saved: '已保存主题 {id}。',
  },
  'zh-Hant': {
    topics: '訂閱主題', intro: '使用者可以單獨關閉的訊息主題（優惠券、新品、活動……），每個主題屬於它所服務的處理目的。彈窗和偏好中心會列出策略所涉及的主題。',
    tid: '編號', name: '名稱', purposes: '所屬處理目的', editOne: '編輯 {id}', newTopic: '新增主題', editTopic: '編輯主題 {id}',
    none: '還沒有設定主題。', names: '名稱（各語言）', tidHint: '小寫字母、數字和 . _ -，最多 64 個字元，如 coupons。建立後不能更改。',
    tidFixed: '編號建立後不能更改。', purposesHint: '至少選擇一個：這些目的被撤回或拒絕時，主題也不會再傳送。',
    noPurposes: '還沒有處理目的：請先在「處理目的」中建立。', onePurpose: '至少選擇一個處理目的。',
    changedMeanwhile: '這個主題剛被其他人修改過，已重新載入最新內容，請重新編輯。', created: '已建立主題 {id}。', saved: '已儲存主題 {id}。',
  },
  en: {
    topics: 'Topics', intro: 'What people may hear about and turn off one by one (coupons, new arrivals, events …), each under the purposes it serves. The popup and the preference center list a policy\'s topics.',
    tid: 'Id', name: 'Name', purposes: 'Purposes', editOne: 'Edit {id}', newTopic: 'New topic', editTopic: 'Edit topic {id}',
    none: 'No topics configured yet.', names: 'Names (each language)', tidHint: 'Lower-case letters, digits and . _ -, at most 64 characters, such as coupons. Fixed once created.',
    tidFixed: 'The id cannot change once created.', purposesHint: 'At least one: when these are withdrawn or refused, the topic is not sent either.',
    noPurposes: 'No purposes yet: create them under Purposes first.', onePurpose: 'Choose at least one purpose.',
    changedMeanwhile: 'Someone else changed this topic meanwhile: the latest is loaded, please edit again.', created: 'Topic {id} created.', saved: 'Topic {id} saved.',
  },
};
